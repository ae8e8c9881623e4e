//! CPU priority of the agent's background threads.
//!
//! The ingest threads — HEP UDP receive, the pipeline, the index (and
//! tantivy's indexing, compression and merge threads, which the index thread
//! starts and which inherit its nice value) — are throughput work with queues in
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
