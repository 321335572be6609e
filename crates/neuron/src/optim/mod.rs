//! Optimizers: their configuration, the update rules (SGD with momentum or Nesterov, Adam and
//! AdamW, RMSprop), learning-rate schedules, and the optimizer that applies them to a model.

pub mod adam;
mod config;
mod optimizer;
pub mod rmsprop;
pub mod schedule;
pub mod sgd;
#[cfg(test)]
mod tests;

pub use config::{OptimizerConfig, OptimizerKind};
pub use optimizer::{Optimizer, OptimizerSnapshot, OptimizerState};
