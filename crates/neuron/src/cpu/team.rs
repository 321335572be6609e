//! A small team of helper threads that pick up work within microseconds.
//!
//! A training step on small batches is a sequence of short parallel passes (tens of microseconds
//! each). A general-purpose pool puts idle workers to sleep, and waking them costs about as much as
//! the pass itself. Here the calling thread and the helpers, which spin between jobs, claim the
//! parts of every job one at a time until none is left, so a thread the operating system delays
//! leaves its share to the others; helpers that stay idle for a while back off to sleeping, so an
//! idle process does not burn CPU. Which thread computes a part never changes what it computes.

use std::cell::Cell;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long an idle helper spins before it starts yielding, then sleeping.
const SPIN: Duration = Duration::from_micros(200);
const YIELD: Duration = Duration::from_millis(2);

type Job = *const (dyn Fn(usize) + Sync);

struct Shared {
    /// Incremented for every job; helpers wait for it to change.
    generation: AtomicUsize,
    /// The current job (valid while it is running).
    job: Mutex<Option<Posted>>,
    /// The next part to claim, in the low 32 bits, with the generation it belongs to in the high
    /// 32 bits, so that a helper still holding an earlier job can never claim a part of this one.
    next: AtomicU64,
    /// Parts not finished yet.
    remaining: AtomicUsize,
    /// Set when a part run by a helper panicked; `run` then panics in the caller.
    helper_panicked: AtomicBool,
    shutdown: AtomicBool,
    helpers: Mutex<Vec<Thread>>,
}

/// A job as the helpers see it.
#[derive(Clone, Copy)]
struct Posted {
    job: SendJob,
    parts: usize,
    generation: usize,
    /// For pinned parts, the team size: thread `i` runs parts `i`, `i + size`, …
    stride: Option<usize>,
}

#[derive(Clone, Copy)]
struct SendJob(Job);
// SAFETY: the job is only dereferenced while `run` keeps the closure alive and waits for it.
unsafe impl Send for SendJob {}

/// Shuts the helpers down when the last handle goes.
struct Handle {
    shared: Arc<Shared>,
    submit: Mutex<()>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        if let Ok(h) = self.shared.helpers.lock() {
            h.iter().for_each(Thread::unpark);
        }
    }
}

/// A calling thread plus `size − 1` helper threads.
#[derive(Clone)]
pub(crate) struct Team {
    handle: Arc<Handle>,
    size: usize,
}

impl std::fmt::Debug for Team {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Team({})", self.size)
    }
}

thread_local! {
    static IN_TEAM: Cell<bool> = const { Cell::new(false) };
}

fn helper(shared: Arc<Shared>, index: usize) {
    IN_TEAM.with(|f| f.set(true));
    // Generations start at 0 and the first job is 1: a helper that starts late still sees it.
    let mut seen = 0;
    loop {
        let idle_since = Instant::now();
        let mut spins = 0u32;
        loop {
            if shared.shutdown.load(Ordering::Acquire) {
                return;
            }
            let g = shared.generation.load(Ordering::Acquire);
            if g != seen {
                seen = g;
                break;
            }
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(256) {
                std::hint::spin_loop();
                continue;
            }
            // Reading the clock is costly: only every 256 spins.
            let idle = idle_since.elapsed();
            if idle < SPIN {
                std::hint::spin_loop();
            } else if idle < YIELD {
                thread::yield_now();
            } else {
                thread::park_timeout(Duration::from_millis(50));
            }
        }
        let job = shared.job.lock().map(|j| *j).unwrap_or(None);
        if let Some(Posted {
            job,
            parts,
            generation,
            stride,
        }) = job
        {
            // A job published after the one this helper woke for is picked up next time round.
            if generation == seen {
                // SAFETY: `Team::run` keeps the closure alive until `remaining` reaches 0, which
                // needs every part claimed here to finish; a part of a later job is never claimed.
                let f = unsafe { &*job.0 };
                let mut next = taker(index, parts, generation, stride);
                while let Some(i) = next(&shared) {
                    if catch_unwind(AssertUnwindSafe(|| f(i))).is_err() {
                        shared.helper_panicked.store(true, Ordering::Release);
                    }
                    shared.remaining.fetch_sub(1, Ordering::AcqRel);
                }
            }
        }
    }
}

/// The parts thread `index` runs of a job: every `stride`-th from its own index when the parts
/// are pinned, else whatever it claims in turn.
fn taker(
    index: usize,
    parts: usize,
    generation: usize,
    stride: Option<usize>,
) -> impl FnMut(&Shared) -> Option<usize> {
    let mut own = stride.map(|s| (index..parts).step_by(s));
    move |shared| match own.as_mut() {
        Some(own) => own.next(),
        None => claim(shared, generation, parts),
    }
}

/// Claims the next unclaimed part of job `generation` (of `parts`), if any is left.
fn claim(shared: &Shared, generation: usize, parts: usize) -> Option<usize> {
    let tag = (generation as u64 & 0xffff_ffff) << 32;
    let mut cur = shared.next.load(Ordering::Acquire);
    loop {
        let i = cur & 0xffff_ffff;
        if cur & !0xffff_ffff != tag || i >= parts as u64 {
            return None;
        }
        match shared
            .next
            .compare_exchange_weak(cur, cur + 1, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => return Some(i as usize),
            Err(now) => cur = now,
        }
    }
}

impl Team {
    /// The shared team of `size` threads (the caller and `size − 1` helpers), created once per size.
    pub(crate) fn get(size: usize) -> Team {
        static TEAMS: OnceLock<Mutex<HashMap<usize, Team>>> = OnceLock::new();
        let size = size.max(1);
        let mut teams = TEAMS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        teams.entry(size).or_insert_with(|| Team::new(size)).clone()
    }

    fn new(size: usize) -> Team {
        let shared = Arc::new(Shared {
            generation: AtomicUsize::new(0),
            job: Mutex::new(None),
            next: AtomicU64::new(0),
            remaining: AtomicUsize::new(0),
            helper_panicked: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
            helpers: Mutex::new(Vec::new()),
        });
        let mut threads = Vec::new();
        for i in 1..size {
            let s = shared.clone();
            match thread::Builder::new()
                .name(format!("neuron-{i}"))
                .spawn(move || helper(s, i))
            {
                Ok(h) => threads.push(h.thread().clone()),
                // A smaller team: helper indices must stay 1..size for pinned parts.
                Err(_) => break,
            }
        }
        let size = threads.len() + 1;
        if let Ok(mut h) = shared.helpers.lock() {
            *h = threads;
        }
        Team {
            handle: Arc::new(Handle {
                shared,
                submit: Mutex::new(()),
            }),
            size,
        }
    }

    /// The number of threads, the caller included.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Whether the calling thread is running a part of a job: any job it starts now runs on it
    /// alone.
    pub(crate) fn nested() -> bool {
        IN_TEAM.with(|t| t.get())
    }

    /// Runs `f(0)`, …, `f(parts − 1)`, in parallel when `parts > 1`, and returns when all are
    /// done. Every thread of the team claims parts until none is left, so `parts` may exceed
    /// the team size (smaller parts balance better when a thread is delayed).
    pub(crate) fn run(&self, parts: usize, f: &(dyn Fn(usize) + Sync)) {
        self.run_job(parts, false, f)
    }

    /// Runs `f(0)`, …, `f(parts − 1)` like [`Team::run`], but part `i` always on thread
    /// `i mod size` (the caller is thread 0): a pass that touches the same data every call (one
    /// sample through a layer's weights) then finds its share in the same core's cache.
    pub(crate) fn run_pinned(&self, parts: usize, f: &(dyn Fn(usize) + Sync)) {
        self.run_job(parts, true, f)
    }

    fn run_job(&self, parts: usize, pinned: bool, f: &(dyn Fn(usize) + Sync)) {
        if parts <= 1 || self.size == 1 || Self::nested() {
            (0..parts).for_each(f);
            return;
        }
        assert!(parts < 1 << 32, "a job of {parts} parts");
        let shared = &self.handle.shared;
        let _guard = self.handle.submit.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the lifetime is erased only while this function waits for every part to finish.
        let job: Job = unsafe {
            std::mem::transmute::<&(dyn Fn(usize) + Sync), &'static (dyn Fn(usize) + Sync)>(f)
        };
        let generation = shared.generation.load(Ordering::Acquire) + 1;
        if let Ok(mut j) = shared.job.lock() {
            *j = Some(Posted {
                job: SendJob(job),
                parts,
                generation,
                stride: pinned.then_some(self.size),
            });
        }
        shared.remaining.store(parts, Ordering::Release);
        shared
            .next
            .store((generation as u64 & 0xffff_ffff) << 32, Ordering::Release);
        shared.generation.store(generation, Ordering::Release);
        if let Ok(h) = shared.helpers.lock() {
            h.iter().for_each(Thread::unpark);
        }
        IN_TEAM.with(|t| t.set(true));
        let mut r = Ok(());
        let mut next = taker(0, parts, generation, pinned.then_some(self.size));
        while let Some(i) = next(shared) {
            if r.is_ok() {
                r = catch_unwind(AssertUnwindSafe(|| f(i)));
            }
            shared.remaining.fetch_sub(1, Ordering::AcqRel);
        }
        IN_TEAM.with(|t| t.set(false));
        while shared.remaining.load(Ordering::Acquire) != 0 {
            std::hint::spin_loop();
        }
        if let Ok(mut j) = shared.job.lock() {
            *j = None;
        }
        if let Err(p) = r {
            std::panic::resume_unwind(p);
        }
        if shared.helper_panicked.swap(false, Ordering::AcqRel) {
            panic!("a part of a parallel job panicked on a helper thread");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_runs_once() {
        let team = Team::get(3);
        for parts in 1..=11 {
            let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            for _ in 0..1000 {
                team.run(parts, &|i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
            }
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1000));
        }
        // More parts than threads: part i stays on thread i mod 3.
        for parts in 1..=7 {
            let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            let names: Vec<Mutex<Option<String>>> = (0..parts).map(|_| Mutex::new(None)).collect();
            for _ in 0..1000 {
                team.run_pinned(parts, &|i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                    let me = thread::current().name().map(str::to_string);
                    let mut seen = names[i].lock().unwrap();
                    assert!(seen.is_none() || *seen == me, "part {i} moved threads");
                    *seen = me;
                });
            }
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1000));
            for i in 3..parts {
                assert_eq!(*names[i].lock().unwrap(), *names[i - 3].lock().unwrap());
            }
        }
    }

    #[test]
    fn a_panicking_part_panics_the_caller_and_the_team_goes_on() {
        let team = Team::get(2);
        for _ in 0..20 {
            let r = catch_unwind(AssertUnwindSafe(|| {
                team.run(8, &|i| assert_ne!(i, 5, "part 5 fails"));
            }));
            assert!(r.is_err());
            let hits = AtomicUsize::new(0);
            team.run(8, &|_| {
                hits.fetch_add(1, Ordering::Relaxed);
            });
            assert_eq!(hits.load(Ordering::Relaxed), 8);
        }
    }
}
