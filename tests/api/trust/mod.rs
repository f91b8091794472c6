mod anonymous;
mod login_csrf;
