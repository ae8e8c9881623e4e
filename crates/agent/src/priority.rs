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

/// Puts the calling thread under `SCHED_FIFO` at `priority` (1 to 99); threads
/// it starts afterwards inherit the policy. A real-time thread runs as soon as
/// it is runnable, ahead of every normal one, so it is only for threads that
/// wait most of the time and answer briefly: the API's. It needs
/// `CAP_SYS_NICE` or an `RLIMIT_RTPRIO` of at least `priority` (systemd:
/// `LimitRTPRIO=`, without `RestrictRealtime=yes`). The kernel's real-time
/// throttling (`kernel.sched_rt_runtime_us`, 95% of each second by default)
/// bounds what a runaway query could take from a core.
pub fn realtime_current_thread(priority: u8) -> Result<(), String> {
    use thread_priority::{
        RealtimeThreadSchedulePolicy, ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    let value = ThreadPriorityValue::try_from(priority)?;
    set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Crossplatform(value),
        ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
    )
    .map_err(|e| match e {
        thread_priority::Error::OS(code) if code == rustix::io::Errno::PERM.raw_os_error() => {
            format!(
                "not permitted (SCHED_FIFO {priority} needs CAP_SYS_NICE or an RLIMIT_RTPRIO of \
                 at least {priority}, e.g. systemd's LimitRTPRIO={priority} without \
                 RestrictRealtime=yes)"
            )
        }
        e => e.to_string(),
    })
}

/// [`realtime_current_thread`] for the API's threads, with `0` meaning off. A
/// refusal is logged once per process: the API then runs at the agent's own
/// priority, as it does by default.
pub fn api_thread_priority(priority: u8) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if priority == 0 {
        return;
    }
    if let Err(reason) = realtime_current_thread(priority)
        && !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        tracing::warn!(
            priority,
            %reason,
            "cannot run the API threads real-time (node.api_realtime_priority); they run at normal priority"
        );
    }
}

/// The API's runtime: `workers` threads, each (and each blocking thread the
/// queries run on) at [`api_thread_priority`]`(realtime)`.
pub fn api_runtime(workers: usize, realtime: u8) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .thread_name("callweave-api")
        .on_thread_start(move || api_thread_priority(realtime))
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

    /// `(policy, priority)` of the calling thread, as the kernel has them.
    fn sched_of_this_thread() -> (thread_priority::ThreadSchedulePolicy, i32) {
        let (policy, params) =
            thread_priority::thread_schedule_policy_param(thread_priority::thread_native_id())
                .unwrap();
        (policy, params.sched_priority)
    }

    fn fifo() -> thread_priority::ThreadSchedulePolicy {
        thread_priority::ThreadSchedulePolicy::Realtime(
            thread_priority::RealtimeThreadSchedulePolicy::Fifo,
        )
    }

    /// Whether this process may use SCHED_FIFO at `priority`: CAP_SYS_NICE in
    /// its effective set, or an RLIMIT_RTPRIO that high.
    fn may_use_fifo(priority: u8) -> bool {
        const CAP_SYS_NICE: u32 = 23;
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let cap_eff = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap();
        let rtprio = rustix::process::getrlimit(rustix::process::Resource::Rtprio).current;
        cap_eff & (1 << CAP_SYS_NICE) != 0 || rtprio.is_none_or(|r| r >= u64::from(priority))
    }

    #[test]
    fn realtime_is_set_where_permitted_and_refused_with_the_reason_elsewhere() {
        let (got, own, child) = std::thread::spawn(|| {
            let got = realtime_current_thread(1);
            let child = std::thread::spawn(sched_of_this_thread).join().unwrap();
            (got, sched_of_this_thread(), child)
        })
        .join()
        .unwrap();
        if may_use_fifo(1) {
            assert_eq!(got, Ok(()));
            assert_eq!(own, (fifo(), 1));
            assert_eq!(child, (fifo(), 1), "threads it starts inherit it");
        } else {
            let reason = got.unwrap_err();
            assert!(reason.contains("LimitRTPRIO"), "{reason}");
            assert_ne!(own.0, fifo());
        }
        assert_ne!(
            sched_of_this_thread().0,
            fifo(),
            "the caller's thread is untouched"
        );
    }

    #[test]
    fn a_priority_out_of_range_is_refused() {
        let got = std::thread::spawn(|| (realtime_current_thread(100), sched_of_this_thread()))
            .join()
            .unwrap();
        assert!(got.0.is_err());
        assert_ne!(got.1.0, fifo());
    }

    #[test]
    fn the_api_runtime_runs_its_tasks_real_time_when_asked() {
        for realtime in [0, 2] {
            let rt = api_runtime(2, realtime).unwrap();
            let (task, blocking) = rt.block_on(async {
                let task = tokio::spawn(async { sched_of_this_thread() })
                    .await
                    .unwrap();
                let blocking = tokio::task::spawn_blocking(sched_of_this_thread)
                    .await
                    .unwrap();
                (task, blocking)
            });
            if realtime > 0 && may_use_fifo(realtime) {
                assert_eq!((task, blocking), ((fifo(), 2), (fifo(), 2)));
            } else {
                assert_ne!(task.0, fifo(), "realtime {realtime}");
                assert_ne!(blocking.0, fifo(), "realtime {realtime}");
            }
            assert_ne!(
                sched_of_this_thread().0,
                fifo(),
                "the driving thread is untouched"
            );
        }
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
