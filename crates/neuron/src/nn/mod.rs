//! The network: activations, layers (dense, dropout, softmax), losses, initialisation, and the
//! `Sequential` model that chains them.

pub mod activation;
mod activation_layer;
mod dense;
mod dropout;
pub mod init;
pub mod layer;
pub mod loss;
pub(crate) mod sequential;
mod softmax;
