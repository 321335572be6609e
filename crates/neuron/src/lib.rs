//! # neuron
//!
//! Feed-forward neural networks (multi-layer perceptrons): layers of neurons, forward propagation
//! `Z = X·Wᵀ + b` followed by an activation, backpropagation by the chain rule, and gradient
//! descent on a loss, all computed on whole mini-batches as matrix arithmetic.
//!
//! ```
//! use neuron::{Cpu, Dataset, FitConfig, Loss, Matrix, Optimizer, OptimizerConfig, Sequential, Silent};
//!
//! // XOR, the classic problem no linear model can fit.
//! let x = Matrix::from_vec(4, 2, vec![0., 0., 0., 1., 1., 0., 1., 1.]).unwrap();
//! let y = Matrix::from_vec(4, 1, vec![0., 1., 1., 0.]).unwrap();
//! let data = Dataset::new(x.clone(), y).unwrap();
//!
//! let mut model = Sequential::builder(2)
//!     .dense(8).tanh()
//!     .dense(1).sigmoid()
//!     .loss(Loss::Mse)
//!     .seed(3)
//!     .build(Cpu::<f32>::new())
//!     .unwrap();
//! let mut opt = Optimizer::new(OptimizerConfig::adam(0.05)).unwrap();
//! let cfg = FitConfig { epochs: 300, batch_size: 4, ..FitConfig::default() };
//! model.fit(&mut opt, &data, None, &cfg, &mut Silent).unwrap();
//!
//! let p = model.predict(&x).unwrap();
//! assert!(p.get(0, 0) < 0.2 && p.get(1, 0) > 0.8 && p.get(2, 0) > 0.8 && p.get(3, 0) < 0.2);
//! ```
//!
//! The numeric kernels sit behind the [`Backend`] trait; [`Cpu`] implements it for `f32` and `f64`.
#![warn(missing_docs)]
// `!(x > 0.0)` is used on purpose: unlike `x <= 0.0` it also rejects NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod backend;
mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod data;
pub mod error;
pub mod float;
pub mod gpu;
pub mod gradcheck;
pub mod io;
pub mod matrix;
pub mod metrics;
pub mod nn;
pub mod optim;
pub mod profile;
pub mod rng;
pub mod train;

pub use backend::{Backend, Operand};
pub use cpu::{Cpu, CpuBuf};
#[cfg(feature = "cuda")]
pub use cuda::Cuda;
pub use data::dataset::Dataset;
pub use error::{NeuronError, Result};
pub use float::Float;
pub use gradcheck::{check_gradients, GradCheckReport};
pub use matrix::Matrix;
pub use nn::activation::Activation;
pub use nn::init::Init;
pub use nn::layer::LayerSpec;
pub use nn::loss::Loss;
pub use nn::sequential::{
    classes_from_outputs, param_shapes, LayerTrace, ParamInfo, Sequential, SequentialBuilder,
};
pub use optim::schedule::LrSchedule;
pub use optim::{Optimizer, OptimizerConfig, OptimizerKind, OptimizerSnapshot, OptimizerState};
pub use rng::Rng;
pub use train::{
    BatchSource, Checkpointer, Control, DatasetSource, EpochEnd, EpochRecord, Evaluation, Event,
    FitConfig, GradientSync, History, Hooks, LayerView, NoSync, Observer, Resume, Silent,
    StepObserver, StepView, StreamSource, TensorView, ThreadSync, TrainRun, TrainState,
};

/// The MPI bindings (rsmpi) that [`MpiSync`] is built on, for front ends that set up a job.
#[cfg(feature = "mpi")]
pub use mpi;
#[cfg(feature = "mpi")]
pub use train::MpiSync;
