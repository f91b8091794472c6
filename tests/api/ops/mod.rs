//! Operations: configuration from the environment, logs.

mod binary;
mod env_config;
mod logs;
