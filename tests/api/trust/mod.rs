mod files;
mod search;
