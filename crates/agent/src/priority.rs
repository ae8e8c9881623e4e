//! CPU priority of the agent's background threads.
//!
//! The ingest threads — HEP UDP receive, the pipeline, the index (and
//! tantivy's indexing, compression and merge threads, which the index thread
//! starts and which inherit its nice value), the collectors' runtime
//! ([`ingest_runtime`]) — are throughput work with queues in
//! front of them. At a higher nice value (`node.ingest_nice`) they yield the CPU
//! to what must answer quickly: trace queries on the API threads, and
//! FreeSWITCH itself on a media node. Where nothing else wants the CPU they get
//! all of it. They share one value: a receive thread at a better priority than
//! the pipeline would, under overload, spend the CPU decoding messages the
//! pipeline then has no room for.

/// Raises the nice value of the calling thread (only it: on Linux the nice
/// value is per thread) to `nice`, and returns the value now in force. A thread
/// already nicer stays as it is: lowering a nice value needs privileges. A
/// failure is logged and the thread carries on at its old priority.
pub fn lower_current_thread(nice: i32) -> Option<i32> {
    use rustix::process::{getpriority_process, setpriority_process};
    let tid = Some(rustix::thread::gettid());
    let current = match getpriority_process(tid) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the thread's nice value");
            return None;
        }
    };
    if nice <= current {
        return Some(current);
    }
    match setpriority_process(tid, nice) {
        Ok(()) => Some(nice),
        Err(e) => {
            tracing::warn!(error = %e, nice, "cannot lower the thread's CPU priority");
            Some(current)
        }
    }
}

/// The runtime the agent's collectors run on: HEP over TCP, the event sockets,
/// the log tails and the Loki client. It carries throughput work only (the API
/// has a runtime of its own), so its threads take the ingest nice value as they
/// start. Loki's encoding and compression run minutes of CPU an hour in
/// stretches of several milliseconds; at the agent's own priority they held off
/// the API threads' wake-ups under load. The thread that calls `block_on` keeps
/// its priority: the API's threads are started from it.
pub fn ingest_runtime(nice: i32) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("callweave")
        .on_thread_start(move || {
            lower_current_thread(nice);
        })
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nice_of_this_thread() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
    }

    #[test]
    fn only_the_calling_thread_and_its_children_are_lowered() {
        let before = nice_of_this_thread();
        let target = (before + 3).min(19);
        let (own, child) = std::thread::spawn(move || {
            let got = lower_current_thread(target);
            // Threads it starts (as tantivy's are) inherit the value.
            let child = std::thread::spawn(nice_of_this_thread).join().unwrap();
            (got, child)
        })
        .join()
        .unwrap();
        assert_eq!(own, Some(target));
        assert_eq!(child, target);
        assert_eq!(
            nice_of_this_thread(),
            before,
            "the caller's thread is untouched"
        );
    }

    #[test]
    fn the_ingest_runtime_runs_its_tasks_at_the_ingest_value() {
        let before = nice_of_this_thread();
        let target = (before + 4).min(19);
        let rt = ingest_runtime(target).unwrap();
        let (task, blocking) = rt.block_on(async {
            let task = tokio::spawn(async { nice_of_this_thread() }).await.unwrap();
            let blocking = tokio::task::spawn_blocking(nice_of_this_thread)
                .await
                .unwrap();
            (task, blocking)
        });
        assert_eq!((task, blocking), (target, target));
        assert_eq!(
            nice_of_this_thread(),
            before,
            "the thread that drives the runtime keeps its value"
        );
    }

    #[test]
    fn a_nicer_thread_is_left_alone() {
        let before = nice_of_this_thread();
        let got = std::thread::spawn(move || {
            let first = lower_current_thread((before + 2).min(19));
            let second = lower_current_thread(before);
            (first, second, nice_of_this_thread())
        })
        .join()
        .unwrap();
        let t = (before + 2).min(19);
        assert_eq!(got, (Some(t), Some(t), t));
    }
}
