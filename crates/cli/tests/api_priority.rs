//! The agent's threads run at the priorities its configuration asks for, as
//! the kernel reports them (`/proc/self/task/*/stat`): with
//! `api_realtime_priority` its API threads under `SCHED_FIFO`, the ingest
//! threads at their nice value and never real-time. In a file of its own: it
//! reads every thread of the test process, so no other agent may run beside it.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::*;

const SCHED_FIFO: i64 = 1;
const CAP_SYS_NICE: u32 = 23;

/// A thread's name, nice value, real-time priority and policy.
#[derive(Debug, Clone, PartialEq)]
struct Sched {
    comm: String,
    nice: i64,
    rt_priority: i64,
    policy: i64,
}

/// Every thread of this process, by thread id.
fn threads() -> BTreeMap<u32, Sched> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = entry.unwrap().path();
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
            continue; // the thread ended meanwhile
        };
        let tid: u32 = dir.file_name().unwrap().to_str().unwrap().parse().unwrap();
        // "tid (comm) state ...": comm may hold spaces, so split at the last ')'.
        let (head, rest) = stat.rsplit_once(')').unwrap();
        let comm = head.split_once('(').unwrap().1.to_owned();
        // Fields from the state on are numbered from 3 (proc(5)).
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| f[n - 3].parse::<i64>().unwrap();
        out.insert(
            tid,
            Sched {
                comm,
                nice: field(19),
                rt_priority: field(40),
                policy: field(41),
            },
        );
    }
    out
}

/// Whether this process may use SCHED_FIFO at `priority`: CAP_SYS_NICE in its
/// effective set, or an RLIMIT_RTPRIO that high.
fn may_use_fifo(priority: i64) -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let cap_eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let rtprio = limits
        .lines()
        .find(|l| l.starts_with("Max realtime priority"))
        .and_then(|l| l.split_whitespace().nth(3))
        .unwrap()
        .to_owned();
    cap_eff & (1 << CAP_SYS_NICE) != 0
        || rtprio == "unlimited"
        || rtprio.parse::<i64>().unwrap() >= priority
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_threads_run_real_time_when_asked_and_ingest_threads_never() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent("api_realtime_priority = 3\ningest_nice = 7\n", dir.path()).await;
    // A request served: the accepting thread and a worker have run.
    let (status, _) = tokio::task::spawn_blocking({
        let http = agent.http;
        move || http_get(http, "/healthz")
    })
    .await
    .unwrap();
    assert_eq!(status, 200);

    let allowed = may_use_fifo(3);
    let deadline = Instant::now() + Duration::from_secs(5);
    let (api, ingest) = loop {
        let all = threads();
        let api: Vec<Sched> = all
            .values()
            .filter(|t| t.comm == "callweave-api")
            .cloned()
            .collect();
        let ingest: Vec<Sched> = all
            .values()
            .filter(|t| {
                [
                    "callweave-hep-u",
                    "callweave-pipel",
                    "callweave-index",
                    "callweave-reloa",
                ]
                .contains(&t.comm.as_str())
            })
            .cloned()
            .collect();
        let settled = api.len() >= 3
            && ingest.len() == 4
            && api.iter().all(|t| (t.policy == SCHED_FIFO) == allowed);
        if settled || Instant::now() > deadline {
            break (api, ingest);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // The thread that accepts connections and the runtime's two workers, at
    // least (blocking threads come and go).
    assert!(api.len() >= 3, "{api:?}");
    for t in &api {
        if allowed {
            assert_eq!((t.policy, t.rt_priority), (SCHED_FIFO, 3), "{t:?}");
        } else {
            // Refused (logged): normal priority, as without the setting.
            assert_eq!((t.policy, t.nice), (0, 0), "{t:?}");
        }
    }
    assert_eq!(ingest.len(), 4, "{ingest:?}");
    for t in &ingest {
        assert_eq!((t.policy, t.nice), (0, 7), "{t:?}");
    }
    agent.shutdown().await;
}
