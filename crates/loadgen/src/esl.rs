//! A minimal FreeSWITCH event socket (inbound mode) that the agent connects to.
//!
//! It speaks just enough of the protocol for a subscriber: `auth/request`, the
//! `auth` reply, `+OK event listener enabled json` for `event`, an
//! `api/response` for `api` (the agent's keep-alive) and `+OK` for anything
//! else. Events are written by one writer thread from a bounded channel, so a
//! slow subscriber shows up as counted drops instead of slowing the SIP senders.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::LoadgenError;

/// Chunks of event frames waiting for the writer.
const QUEUE_CHUNKS: usize = 4096;

/// Counters shared by the server and the senders.
#[derive(Debug, Default)]
pub struct EslCounters {
    /// Events written to the subscriber.
    pub events: AtomicU64,
    /// Bytes of event frames written.
    pub bytes: AtomicU64,
    /// Events not written: queue full, no subscriber, or the connection broke.
    pub dropped: AtomicU64,
    /// Whether a client authenticated and subscribed.
    pub subscribed: AtomicBool,
}

/// One chunk of event frames and how many events it holds.
#[derive(Debug)]
pub struct EventChunk {
    /// Concatenated `text/event-json` frames.
    pub bytes: Vec<u8>,
    /// Number of events in `bytes`.
    pub events: u64,
}

enum Out {
    Events(EventChunk),
    Reply(Vec<u8>),
    /// Sent by [`EslServer::finish`] after the senders stopped.
    Finish,
}

/// Where senders put event frames.
#[derive(Debug, Clone)]
pub struct EslSink {
    tx: SyncSender<Out>,
    counters: Arc<EslCounters>,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Out::Events(c) => write!(f, "Events({})", c.events),
            Out::Reply(r) => write!(f, "Reply({} bytes)", r.len()),
            Out::Finish => f.write_str("Finish"),
        }
    }
}

impl EslSink {
    /// Queues a chunk without blocking; counts its events as dropped when the
    /// writer is behind or gone.
    pub fn offer(&self, chunk: EventChunk) {
        let n = chunk.events;
        match self.tx.try_send(Out::Events(chunk)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(n, Ordering::Relaxed);
            }
        }
    }
}

/// A listening event socket.
#[derive(Debug)]
pub struct EslServer {
    local: SocketAddr,
    counters: Arc<EslCounters>,
    sink: Option<EslSink>,
    writer: Option<JoinHandle<()>>,
}

impl EslServer {
    /// Binds `addr` and serves the first client that connects, checking
    /// `password`.
    pub fn start(addr: SocketAddr, password: &str) -> Result<Self, LoadgenError> {
        let listener = TcpListener::bind(addr)
            .map_err(|e| LoadgenError::io(format!("cannot bind esl listener on {addr}"), e))?;
        let local = listener
            .local_addr()
            .map_err(|e| LoadgenError::io("esl listener address", e))?;
        let counters = Arc::new(EslCounters::default());
        let (tx, rx) = sync_channel::<Out>(QUEUE_CHUNKS);
        let sink = EslSink {
            tx: tx.clone(),
            counters: counters.clone(),
        };
        let password = password.to_owned();
        let c = counters.clone();
        let writer = std::thread::Builder::new()
            .name("esl-server".into())
            .spawn(move || serve(listener, password, tx, rx, c))
            .map_err(|e| LoadgenError::io("cannot start the esl thread", e))?;
        Ok(Self {
            local,
            counters,
            sink: Some(sink),
            writer: Some(writer),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// A handle for senders.
    pub fn sink(&self) -> Option<EslSink> {
        self.sink.clone()
    }

    /// Shared counters.
    pub fn counters(&self) -> Arc<EslCounters> {
        self.counters.clone()
    }

    /// Waits until a client has subscribed, at most `timeout`.
    pub fn wait_subscribed(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if self.counters.subscribed.load(Ordering::Acquire) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.counters.subscribed.load(Ordering::Acquire)
    }

    /// Lets the writer drain what is queued (waiting at most `linger`), then
    /// closes the connection. Call after every sender stopped.
    pub fn finish(mut self, linger: Duration) {
        if let Some(sink) = self.sink.take() {
            let until = Instant::now() + linger;
            let mut msg = Out::Finish;
            loop {
                match sink.tx.try_send(msg) {
                    Ok(()) | Err(TrySendError::Disconnected(_)) => break,
                    Err(TrySendError::Full(m)) => {
                        if Instant::now() >= until {
                            break;
                        }
                        msg = m;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
            if let Some(w) = self.writer.take() {
                while !w.is_finished() && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(5));
                }
                if w.is_finished() {
                    let _ = w.join();
                }
            }
        }
    }
}

fn serve(
    listener: TcpListener,
    password: String,
    tx: SyncSender<Out>,
    rx: Receiver<Out>,
    counters: Arc<EslCounters>,
) {
    // One subscriber per run: the agent connects once before traffic starts.
    let _ = listener.set_nonblocking(true);
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_nodelay(true);
                let Ok(read_half) = stream.try_clone() else {
                    return;
                };
                let pw = password.clone();
                let c = counters.clone();
                let reader = std::thread::spawn(move || read_commands(read_half, &pw, &tx, &c));
                write_frames(stream, &rx, &counters);
                let _ = reader.join();
                return;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // Nobody connected yet: what senders queue cannot be delivered.
                while let Ok(out) = rx.try_recv() {
                    match out {
                        Out::Events(c) => {
                            counters.dropped.fetch_add(c.events, Ordering::Relaxed);
                        }
                        Out::Reply(_) => {}
                        Out::Finish => return,
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => return,
        }
    }
}

fn write_frames(mut stream: TcpStream, rx: &Receiver<Out>, counters: &EslCounters) {
    let mut broken = stream.write_all(b"Content-Type: auth/request\n\n").is_err();
    while let Ok(out) = rx.recv() {
        match out {
            Out::Reply(bytes) => {
                if !broken && stream.write_all(&bytes).is_err() {
                    broken = true;
                }
            }
            Out::Events(chunk) => {
                if broken || !counters.subscribed.load(Ordering::Acquire) {
                    counters.dropped.fetch_add(chunk.events, Ordering::Relaxed);
                    continue;
                }
                match stream.write_all(&chunk.bytes) {
                    Ok(()) => {
                        counters.events.fetch_add(chunk.events, Ordering::Relaxed);
                        counters
                            .bytes
                            .fetch_add(chunk.bytes.len() as u64, Ordering::Relaxed);
                    }
                    Err(_) => {
                        broken = true;
                        counters.dropped.fetch_add(chunk.events, Ordering::Relaxed);
                    }
                }
            }
            Out::Finish => break,
        }
    }
    let _ = stream.flush();
    // Also ends the command reader, which is blocked reading this socket.
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn read_commands(stream: TcpStream, password: &str, tx: &SyncSender<Out>, counters: &EslCounters) {
    let mut reader = BufReader::new(stream);
    let mut authed = false;
    let mut command = Vec::<String>::new();
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if !l.is_empty() {
            command.push(l.to_owned());
            continue;
        }
        let Some(first) = command.first().cloned() else {
            continue;
        };
        command.clear();
        let reply = if !authed {
            if first.strip_prefix("auth ").map(str::trim) == Some(password) {
                authed = true;
                command_reply("+OK accepted")
            } else {
                let _ = tx.send(Out::Reply(command_reply("-ERR invalid")));
                return;
            }
        } else if let Some(rest) = first.strip_prefix("event ") {
            let format = rest.split_whitespace().next().unwrap_or("plain").to_owned();
            let r = command_reply(&format!("+OK event listener enabled {format}"));
            if tx.send(Out::Reply(r)).is_err() {
                return;
            }
            counters.subscribed.store(true, Ordering::Release);
            continue;
        } else if first.starts_with("api ") {
            let body = "UP 0 years, 0 days, 0 hours, 1 minute, 0 seconds (callweave-loadgen)\n";
            format!(
                "Content-Type: api/response\nContent-Length: {}\n\n{body}",
                body.len()
            )
            .into_bytes()
        } else if first == "exit" {
            let _ = tx.send(Out::Reply(command_reply("+OK bye")));
            return;
        } else {
            command_reply("+OK")
        };
        if tx.send(Out::Reply(reply)).is_err() {
            return;
        }
    }
}

fn command_reply(text: &str) -> Vec<u8> {
    format!("Content-Type: command/reply\nReply-Text: {text}\n\n").into_bytes()
}
