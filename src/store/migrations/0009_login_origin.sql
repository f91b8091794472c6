-- Whether a pending sign-in was started from one of the portal's own CSRF-protected forms
-- (POST /login/sso, the admin's test on /settings/sso) rather than by a link another site
-- can make a browser follow (/sso/{team}/login, /sso/{team}/initiate).
ALTER TABLE sso_logins ADD COLUMN from_form INTEGER NOT NULL DEFAULT 0;
