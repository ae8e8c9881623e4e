//! SIP message parsing for callweave: the start line and the headers that matter for
//! call correlation, a summary of the SDP offer/answer, and message framing on
//! stream transports.
//!
//! Every SIP message the agent sees — from HEP, or replayed from a pcap — passes
//! through [`parse`] once. The parser is built for that hot path:
//!
//! - **Zero-copy.** [`SipMessage`] borrows `&str`/`&[u8]` from the input; nothing is
//!   allocated per message or per header. Headers without a typed field are found
//!   by re-scanning the head ([`SipMessage::header`], [`SipMessage::headers`]).
//! - **One pass.** The start line, Call-ID, From/To (user, tag), CSeq, top Via
//!   (transport, sent-by, branch), Contact, User-Agent/Server, Reason,
//!   P-Asserted-Identity, Content-Type/-Length, Max-Forwards and a configurable
//!   correlation header (`X-CID`, `X-Call-ID`, `XCall-ID` by default, see [`Parser`])
//!   are extracted in the same scan.
//! - **Tolerant of real traffic.** Compact header names (`i f t v m l c k s e o r u`
//!   and the rest of the IANA list), any letter case, folded lines, CRLF or bare LF,
//!   leading keep-alive CRLFs, missing optional headers, and stray non-UTF-8 bytes in
//!   display names or tags are all accepted.
//! - **Precise failures.** A [`ParseError`] carries an [`ErrorKind`] (stable
//!   snake_case names for metrics) and the byte offset of the offending line.
//!   Only a Call-ID is mandatory; a CSeq or Content-Length that is present must be
//!   well formed. Nothing panics on any input (fuzzed: see `fuzz/`).
//!
//! [`sdp::summarize`] reduces an SDP body to what a call ladder shows: connection
//! addresses, each `m=` line with its codecs, and the media direction.
//! [`stream::message_len`] cuts SIP messages out of a TCP/TLS byte stream by
//! Content-Length.
//!
//! # Example
//!
//! ```
//! use callweave_sip::{Method, parse};
//!
//! let invite = b"INVITE sip:9998112263382742@10.243.0.157 SIP/2.0\r\n\
//! Via: SIP/2.0/UDP 10.243.0.143;rport;branch=z9hG4bKZQc0S64KHSyeg\r\n\
//! f: \"+12675941249\" <sip:+12675941249@10.243.0.143>;tag=jSvFv18y0pmZD\r\n\
//! t: <sip:9998112263382742@10.243.0.157>\r\n\
//! i: 926ffd16-6154-1237-09ba-0270b3230128\r\n\
//! CSeq: 130689518 INVITE\r\n\
//! XCall-ID: kovfhoptshgn59q712sr\r\n\
//! c: application/sdp\r\n\
//! l: 93\r\n\
//! \r\n\
//! v=0\r\n\
//! c=IN IP4 35.175.163.49\r\n\
//! m=audio 29578 RTP/AVP 0 101\r\n\
//! a=rtpmap:101 telephone-event/8000\r\n";
//!
//! let msg = parse(invite)?;
//! assert_eq!(msg.method(), Some(Method::Invite));
//! assert_eq!(msg.method().map(|m| m.label()), Some("INVITE"));
//! assert_eq!(msg.call_id, "926ffd16-6154-1237-09ba-0270b3230128");
//! assert_eq!(msg.correlation_id, Some("kovfhoptshgn59q712sr"));
//! let from = msg.from.expect("from");
//! assert_eq!((from.user, from.tag), (Some("+12675941249"), Some("jSvFv18y0pmZD")));
//! assert_eq!(msg.via.map(|v| v.transport), Some("UDP"));
//! assert_eq!(msg.header("Call-ID"), Some(msg.call_id));
//!
//! let sdp = msg.sdp().expect("an sdp body");
//! assert_eq!(sdp.connection, Some("35.175.163.49"));
//! let codecs: Vec<&str> = sdp.media[0].codecs().collect();
//! assert_eq!(codecs, ["PCMU", "telephone-event"]);
//!
//! let err = parse(b"SIP/2.0 200 OK\r\nCSeq: 1 BYE\r\n\r\n").unwrap_err();
//! assert_eq!(err.kind().as_str(), "missing_call_id");
//! assert_eq!(err.to_string(), "no usable call-id header at byte 16");
//! # Ok::<(), callweave_sip::ParseError>(())
//! ```

mod error;
mod header;
mod message;
mod method;
mod scan;
pub mod sdp;
pub mod stream;

pub use error::{ErrorKind, ParseError};
pub use header::{NameAddr, Via, uri_user};
pub use message::{CSeq, DEFAULT_CORRELATION_HEADERS, Header, Headers, Parser, SipMessage, parse};
pub use method::Method;
pub use scan::StartLine;
