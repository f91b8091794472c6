//! Pages that answer back (issue 18): post/redirect/get with a one-time confirmation,
//! confirmation pages before destructive actions, form errors next to their field, deep
//! links kept through sign-in (`answers`); and every page in headless Chromium with axe-core,
//! screenshots light and dark, a phone's width (`a11y`).

mod a11y;
mod a11y_forms;
mod answers;
mod confirms;
mod forms;
