//! Call KPIs for Prometheus: outcomes, active calls, post-dial delay, setup time,
//! duration, hangup causes and media quality, from the correlator's call summaries.
//!
//! Label values are bounded: outcomes and hangup causes come from fixed sets
//! (an unknown cause counts as `other`), the node label is the agent's configured
//! node name, never a value read from a packet.

use callweave_core::graph::CallSummary;
use callweave_core::leg::Role;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// `{node, outcome}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// Agent node name.
    pub node: String,
    /// answered, busy, no-answer, cancelled, failed, in-progress.
    pub outcome: &'static str,
}

/// `{node, cause}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CauseLabel {
    /// Agent node name.
    pub node: String,
    /// A FreeSWITCH hangup cause from [`HANGUP_CAUSES`], or `other`.
    pub cause: &'static str,
}

/// `{node}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeLabel {
    /// Agent node name.
    pub node: String,
}

/// `{method, code}` of a SIP response.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResponseLabel {
    /// CSeq method from the bounded set.
    pub method: &'static str,
    /// Status code, 100..=699.
    pub code: u16,
}

type HistFamily = Family<NodeLabel, Histogram, fn() -> Histogram>;

fn seconds_buckets() -> Histogram {
    Histogram::new([
        0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 30.0, 60.0,
    ])
}

fn duration_buckets() -> Histogram {
    Histogram::new([
        5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0,
    ])
}

fn mos_buckets() -> Histogram {
    Histogram::new([1.0, 2.0, 2.5, 3.0, 3.5, 3.8, 4.0, 4.2, 4.4, 4.5])
}

fn jitter_buckets() -> Histogram {
    Histogram::new([1.0, 5.0, 10.0, 20.0, 30.0, 50.0, 100.0, 200.0])
}

fn loss_buckets() -> Histogram {
    Histogram::new([0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2])
}

/// Every call KPI.
#[derive(Debug, Clone)]
pub struct Kpis {
    node: String,
    /// Calls ended, by outcome.
    pub calls: Family<OutcomeLabel, Counter>,
    /// Calls in memory (in progress or lingering).
    pub active_calls: Family<NodeLabel, Gauge>,
    /// Post-dial delay of the A-leg (INVITE to first ringing), seconds.
    pub pdd: HistFamily,
    /// Setup time of the A-leg (INVITE to answer), seconds.
    pub setup: HistFamily,
    /// Answered duration of the A-leg, seconds.
    pub duration: HistFamily,
    /// Hangup causes of every leg.
    pub hangup_causes: Family<CauseLabel, Counter>,
    /// MOS of every leg that reported one.
    pub mos: HistFamily,
    /// Inbound jitter (max variance, ms) of every leg that reported it.
    pub jitter: HistFamily,
    /// Inbound loss rate of every leg that reported it.
    pub loss: HistFamily,
    /// SIP responses by CSeq method and code.
    pub sip_responses: Family<ResponseLabel, Counter>,
}

impl Kpis {
    /// KPIs labelled with this agent's node name.
    pub fn new(node: &str) -> Self {
        Self {
            node: node.to_owned(),
            calls: Family::default(),
            active_calls: Family::default(),
            pdd: Family::new_with_constructor(seconds_buckets),
            setup: Family::new_with_constructor(seconds_buckets),
            duration: Family::new_with_constructor(duration_buckets),
            hangup_causes: Family::default(),
            mos: Family::new_with_constructor(mos_buckets),
            jitter: Family::new_with_constructor(jitter_buckets),
            loss: Family::new_with_constructor(loss_buckets),
            sip_responses: Family::default(),
        }
    }

    /// Creates the series of every outcome at 0, so `increase()` and ratios see
    /// the first calls (a series born at its first increment hides it).
    pub fn precreate(&self) {
        for outcome in OUTCOMES {
            let _ = self.calls.get_or_create(&OutcomeLabel {
                node: self.node.clone(),
                outcome,
            });
        }
        self.set_active(0);
    }

    /// Registers every KPI.
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "callweave_calls",
            "Calls ended, by outcome",
            self.calls.clone(),
        );
        r.register(
            "callweave_active_calls",
            "Calls in memory (in progress or just ended)",
            self.active_calls.clone(),
        );
        r.register(
            "callweave_call_post_dial_delay_seconds",
            "A-leg post-dial delay: INVITE to first 180/183",
            self.pdd.clone(),
        );
        r.register(
            "callweave_call_setup_seconds",
            "A-leg setup time: INVITE to answer",
            self.setup.clone(),
        );
        r.register(
            "callweave_call_duration_seconds",
            "A-leg answered duration",
            self.duration.clone(),
        );
        r.register(
            "callweave_hangup_causes",
            "Hangup causes of every leg (FreeSWITCH names; unknown = other)",
            self.hangup_causes.clone(),
        );
        r.register(
            "callweave_leg_mos",
            "MOS reported by FreeSWITCH per leg (rtp_audio_in_mos)",
            self.mos.clone(),
        );
        r.register(
            "callweave_leg_jitter_milliseconds",
            "Inbound jitter per leg (rtp_audio_in_jitter_max_variance)",
            self.jitter.clone(),
        );
        r.register(
            "callweave_leg_loss_ratio",
            "Inbound packet loss rate per leg (rtp_audio_in_jitter_loss_rate)",
            self.loss.clone(),
        );
        r.register(
            "callweave_sip_responses",
            "SIP responses by CSeq method and status code",
            self.sip_responses.clone(),
        );
    }

    fn node(&self) -> NodeLabel {
        NodeLabel {
            node: self.node.clone(),
        }
    }

    /// Sets the active-calls gauge.
    pub fn set_active(&self, n: usize) {
        self.active_calls
            .get_or_create(&self.node())
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Accounts a call that left memory.
    pub fn call_ended(&self, call: &CallSummary) {
        self.calls
            .get_or_create(&OutcomeLabel {
                node: self.node.clone(),
                outcome: call.outcome.as_str(),
            })
            .inc();
        let node = self.node();
        // The A-leg carries the caller's experience; without roles take the first leg.
        let a = call
            .legs
            .iter()
            .find(|l| l.role == Some(Role::A))
            .or_else(|| call.legs.first());
        if let Some(a) = a {
            if let Some(pdd) = a.post_dial_delay_micros.filter(|p| *p >= 0) {
                self.pdd.get_or_create(&node).observe(pdd as f64 / 1e6);
            }
            if let (Some(inv), Some(ans)) = (a.invite, a.answered)
                && ans >= inv
            {
                self.setup
                    .get_or_create(&node)
                    .observe((ans - inv) as f64 / 1e6);
            }
            if let Some(d) = a.duration_micros.filter(|d| *d >= 0) {
                self.duration.get_or_create(&node).observe(d as f64 / 1e6);
            }
        }
        for leg in &call.legs {
            if let Some(cause) = &leg.hangup_cause {
                self.hangup_causes
                    .get_or_create(&CauseLabel {
                        node: self.node.clone(),
                        cause: hangup_cause_label(cause),
                    })
                    .inc();
            }
            if let Some(q) = &leg.quality {
                if let Some(m) = q.mos.filter(|m| m.is_finite()) {
                    self.mos.get_or_create(&node).observe(m);
                }
                if let Some(j) = q.jitter_max_variance.filter(|j| j.is_finite()) {
                    self.jitter.get_or_create(&node).observe(j);
                }
                if let Some(l) = q.loss_rate.filter(|l| l.is_finite()) {
                    self.loss.get_or_create(&node).observe(l);
                }
            }
        }
    }

    /// Counts a SIP response.
    pub fn response(&self, method: &'static str, code: u16) {
        if (100..=699).contains(&code) {
            self.sip_responses
                .get_or_create(&ResponseLabel { method, code })
                .inc();
        }
    }
}

/// Every call outcome label.
pub const OUTCOMES: [&str; 6] = [
    "answered",
    "busy",
    "no-answer",
    "cancelled",
    "failed",
    "in-progress",
];

/// The hangup causes FreeSWITCH defines (`switch_channel.c` CAUSE_CHART).
pub const HANGUP_CAUSES: &[&str] = &[
    "NONE",
    "UNALLOCATED_NUMBER",
    "NO_ROUTE_TRANSIT_NET",
    "NO_ROUTE_DESTINATION",
    "CHANNEL_UNACCEPTABLE",
    "CALL_AWARDED_DELIVERED",
    "NORMAL_CLEARING",
    "USER_BUSY",
    "NO_USER_RESPONSE",
    "NO_ANSWER",
    "SUBSCRIBER_ABSENT",
    "CALL_REJECTED",
    "NUMBER_CHANGED",
    "REDIRECTION_TO_NEW_DESTINATION",
    "EXCHANGE_ROUTING_ERROR",
    "DESTINATION_OUT_OF_ORDER",
    "INVALID_NUMBER_FORMAT",
    "FACILITY_REJECTED",
    "RESPONSE_TO_STATUS_ENQUIRY",
    "NORMAL_UNSPECIFIED",
    "NORMAL_CIRCUIT_CONGESTION",
    "NETWORK_OUT_OF_ORDER",
    "NORMAL_TEMPORARY_FAILURE",
    "SWITCH_CONGESTION",
    "ACCESS_INFO_DISCARDED",
    "REQUESTED_CHAN_UNAVAIL",
    "PRE_EMPTED",
    "FACILITY_NOT_SUBSCRIBED",
    "OUTGOING_CALL_BARRED",
    "INCOMING_CALL_BARRED",
    "BEARERCAPABILITY_NOTAUTH",
    "BEARERCAPABILITY_NOTAVAIL",
    "SERVICE_UNAVAILABLE",
    "BEARERCAPABILITY_NOTIMPL",
    "CHAN_NOT_IMPLEMENTED",
    "FACILITY_NOT_IMPLEMENTED",
    "SERVICE_NOT_IMPLEMENTED",
    "INVALID_CALL_REFERENCE",
    "INCOMPATIBLE_DESTINATION",
    "INVALID_MSG_UNSPECIFIED",
    "MANDATORY_IE_MISSING",
    "MESSAGE_TYPE_NONEXIST",
    "WRONG_MESSAGE",
    "IE_NONEXIST",
    "INVALID_IE_CONTENTS",
    "WRONG_CALL_STATE",
    "RECOVERY_ON_TIMER_EXPIRE",
    "MANDATORY_IE_LENGTH_ERROR",
    "PROTOCOL_ERROR",
    "INTERWORKING",
    "SUCCESS",
    "ORIGINATOR_CANCEL",
    "CRASH",
    "SYSTEM_SHUTDOWN",
    "LOSE_RACE",
    "MANAGER_REQUEST",
    "BLIND_TRANSFER",
    "ATTENDED_TRANSFER",
    "ALLOTTED_TIMEOUT",
    "USER_CHALLENGE",
    "MEDIA_TIMEOUT",
    "PICKED_OFF",
    "USER_NOT_REGISTERED",
    "PROGRESS_TIMEOUT",
    "INVALID_GATEWAY",
    "GATEWAY_DOWN",
    "INVALID_URL",
    "INVALID_PROFILE",
    "NO_PICKUP",
    "SRTP_READ_ERROR",
    "BOWOUT",
    "BUSY_EVERYWHERE",
    "DECLINE",
    "DOES_NOT_EXIST_ANYWHERE",
    "NOT_ACCEPTABLE",
    "UNWANTED",
    "NO_IDENTITY",
    "BAD_IDENTITY_INFO",
    "UNSUPPORTED_CERTIFICATE",
    "INVALID_IDENTITY",
    "STALE_DATE",
    "REJECT_ALL",
];

/// The bounded label for a hangup cause: the FreeSWITCH name, or `other`.
pub fn hangup_cause_label(cause: &str) -> &'static str {
    HANGUP_CAUSES
        .iter()
        .find(|c| c.eq_ignore_ascii_case(cause.trim()))
        .copied()
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_bounded() {
        assert_eq!(hangup_cause_label("USER_BUSY"), "USER_BUSY");
        assert_eq!(hangup_cause_label("normal_clearing"), "NORMAL_CLEARING");
        assert_eq!(hangup_cause_label("DROP TABLE calls;--"), "other");
    }
}
