//! `agon_autodiff::on_worker` carries the caller's gradient-recording switch to whichever
//! rayon worker runs the closure, including a worker that is itself inside `no_grad` and
//! picks the closure up while it waits (rayon lets a waiting worker run other jobs). Its
//! own binary, because the test occupies every worker of the global pool.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use agon::autodiff::{is_grad_enabled, no_grad, on_worker};

#[test]
fn a_worker_inside_no_grad_runs_a_recording_callers_closure_with_recording_on() {
    let workers = rayon::current_num_threads();
    let (busy, stop) = (AtomicUsize::new(0), AtomicBool::new(false));
    // The scope's body runs here, on the test's thread (outside the pool, recording on).
    rayon::in_place_scope(|s| {
        // Occupy every worker (a broadcast runs once on each) inside no_grad, each running
        // whatever job is pending while it waits, as a worker blocked in a parallel op does.
        s.spawn_broadcast(|_, _| {
            no_grad(|| {
                busy.fetch_add(1, Ordering::SeqCst);
                while !stop.load(Ordering::SeqCst) {
                    rayon::yield_now();
                }
            })
        });
        while busy.load(Ordering::SeqCst) < workers {
            std::thread::yield_now();
        }
        // Each closure can only run on one of the workers above, inside their no_grad.
        let recorded = on_worker(is_grad_enabled);
        let plain = agon::tensor::on_worker(is_grad_enabled);
        stop.store(true, Ordering::SeqCst);
        assert!(recorded, "the caller records, so the closure must");
        assert!(
            !plain,
            "agon_tensor::on_worker sees the worker's setting (what this guards against)"
        );
    });
}
