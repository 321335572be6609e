//! Progress events during `fit`, and observers that may stop it.

use super::EpochRecord;

/// A progress event sent to an [`Observer`] during [`Sequential::fit`].
#[derive(Debug)]
pub enum Event<'a> {
    /// An epoch starts.
    EpochStart {
        /// Epoch number, from 1.
        epoch: usize,
        /// Number of batches in it.
        batches: usize,
        /// Number of training samples per epoch.
        samples: usize,
    },
    /// A batch was trained on.
    Batch {
        /// Epoch number, from 1.
        epoch: usize,
        /// Batches done in this epoch.
        batch: usize,
        /// Mean loss so far in this epoch.
        running_loss: f64,
        /// Samples done in this epoch.
        samples: usize,
    },
    /// An epoch ended.
    EpochEnd(&'a EpochRecord),
}

/// What an observer wants after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Keep training.
    Continue,
    /// Stop after this event (the model keeps its current weights, or the best ones with early
    /// stopping).
    Stop,
}

/// Receives [`Event`]s during training (progress bars, logging, custom stopping rules).
pub trait Observer {
    /// Called for each event.
    fn on_event(&mut self, event: &Event<'_>) -> Control;
}

impl<F: FnMut(&Event<'_>) -> Control> Observer for F {
    fn on_event(&mut self, event: &Event<'_>) -> Control {
        self(event)
    }
}

/// An observer that ignores everything.
pub struct Silent;

impl Observer for Silent {
    fn on_event(&mut self, _: &Event<'_>) -> Control {
        Control::Continue
    }
}
