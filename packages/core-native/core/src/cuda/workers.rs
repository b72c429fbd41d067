//! Threads kept for a device's uploads (upload.rs): starting and joining 16
//! threads took about 0.5 ms on the H200 hosts (docs/gpu-validation.md,
//! run 44), a seventh of an 84 MiB restore. They wait on a condition
//! variable between uploads and live as long as their device, which is the
//! process.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// A task as the workers see it: the borrow's lifetime erased (see `run`).
type Task = *const (dyn Fn(usize) + Sync);

#[derive(Default)]
struct Round {
    /// Bumped for each task, so that a worker runs each task once.
    number: u64,
    task: Option<TaskRef>,
    /// Workers that take part in the current round.
    taking_part: usize,
    /// Of those, the ones not yet finished.
    running: usize,
    panicked: bool,
}

/// A task pointer, sent to the workers only while `run` waits for them.
#[derive(Clone, Copy)]
struct TaskRef(Task);

// Safety: the task is `Sync`, and `run` keeps it alive until every worker is done with it.
unsafe impl Send for TaskRef {}

struct Shared {
    round: Mutex<Round>,
    started: Condvar,
    finished: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Round> {
        self.round.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(super) struct Workers {
    shared: Arc<Shared>,
    count: usize,
}

impl Workers {
    /// `count` threads, waiting for tasks.
    pub(super) fn start(count: usize) -> std::io::Result<Workers> {
        let shared = Arc::new(Shared {
            round: Mutex::default(),
            started: Condvar::new(),
            finished: Condvar::new(),
        });
        for index in 0..count {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("mmsb-upload-{index}"))
                .spawn(move || work(&shared, index))?;
        }
        Ok(Workers { shared, count })
    }

    pub(super) fn count(&self) -> usize {
        self.count
    }

    /// Runs `task(index)` on workers `0..taking_part` at once and returns,
    /// when all have finished, what each returned in index order; `None` if
    /// any of them panicked.
    pub(super) fn run<R: Send>(&self, taking_part: usize, task: impl Fn(usize) -> R + Sync) -> Option<Vec<R>> {
        let taking_part = taking_part.min(self.count);
        let results: Vec<Mutex<Option<R>>> = (0..taking_part).map(|_| Mutex::new(None)).collect();
        let finished = self.run_erased(taking_part, &|index| {
            let result = task(index);
            *results[index].lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
        });
        finished.then(|| {
            results
                .into_iter()
                .map(|result| {
                    result
                        .into_inner()
                        .unwrap_or_else(PoisonError::into_inner)
                        .expect("a worker that finished left its result")
                })
                .collect()
        })
    }

    /// `run` without results: true when no task panicked.
    fn run_erased(&self, taking_part: usize, task: &(dyn Fn(usize) + Sync)) -> bool {
        // Safety: only the lifetime is erased. The workers use the pointer
        // only between this round's start and `running` reaching 0, and this
        // call does not return before then (a task's panic is caught in its worker).
        let task: Task = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), Task>(task) };
        let mut round = self.shared.lock();
        round.number += 1;
        round.task = Some(TaskRef(task));
        round.taking_part = taking_part;
        round.running = taking_part;
        round.panicked = false;
        self.shared.started.notify_all();
        while round.running > 0 {
            round = self.shared.finished.wait(round).unwrap_or_else(PoisonError::into_inner);
        }
        round.task = None;
        !round.panicked
    }
}

/// Worker `index`: runs each new round's task if it takes part.
fn work(shared: &Shared, index: usize) {
    let mut seen = 0;
    loop {
        let mut round = shared.lock();
        while round.number == seen {
            round = shared.started.wait(round).unwrap_or_else(PoisonError::into_inner);
        }
        seen = round.number;
        let (Some(TaskRef(task)), true) = (round.task, index < round.taking_part) else {
            continue;
        };
        drop(round);
        // Safety: `run` keeps the task alive until this worker reports below.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { (*task)(index) }));
        let mut round = shared.lock();
        round.panicked |= outcome.is_err();
        round.running -= 1;
        if round.running == 0 {
            shared.finished.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn each_round_runs_each_taking_part_worker_once() {
        let workers = Workers::start(4).expect("threads");
        for taking_part in [4, 1, 3, 9, 2] {
            let counts: Vec<AtomicUsize> = (0..4).map(|_| AtomicUsize::new(0)).collect();
            let returned = workers.run(taking_part, |index| {
                counts[index].fetch_add(1, Ordering::SeqCst);
                index * 10
            });
            let expected_returned: Vec<usize> = (0..taking_part.min(4)).map(|index| index * 10).collect();
            assert_eq!(returned, Some(expected_returned), "taking part: {taking_part}");
            let ran: Vec<usize> = counts.iter().map(|count| count.load(Ordering::SeqCst)).collect();
            let expected: Vec<usize> = (0..4).map(|index| usize::from(index < taking_part)).collect();
            assert_eq!(ran, expected, "taking part: {taking_part}");
        }
    }

    #[test]
    fn a_panicking_task_is_reported_after_all_finish_and_the_workers_go_on() {
        let workers = Workers::start(3).expect("threads");
        let finished = AtomicUsize::new(0);
        let returned = workers.run(3, |index| {
            if index == 1 {
                panic!("deliberate");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            finished.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(returned, None);
        assert_eq!(
            finished.load(Ordering::SeqCst),
            2,
            "the others finished before run returned"
        );
        let again = AtomicUsize::new(0);
        assert!(workers
            .run(3, |_| {
                again.fetch_add(1, Ordering::SeqCst);
            })
            .is_some());
        assert_eq!(again.load(Ordering::SeqCst), 3);
    }
}
