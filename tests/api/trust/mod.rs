mod abuse;
mod files;
mod search;
mod transport;
mod tuned_app;
