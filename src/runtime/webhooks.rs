//! Webhook delivery (`[webhooks] enabled = true`): huddle posts each event
//! to the callback URL its conference was given, as `<Conference>` users
//! expect, so an application needs no host code to hear from its rooms.
//!
//! It sits between the outbox and the host: `WebhookHost` passes every call
//! on to the real host unchanged and queues a copy of each event that has a
//! callback URL. The queue is drained by a few worker threads of their own,
//! never the mixer or a host thread:
//! - per conference, one request at a time, in event order, so a receiver
//!   sees a conference's `SequenceNumber`s in order;
//! - a conference whose server is slow or silent holds one worker at most,
//!   so other rooms' callbacks keep flowing while workers remain;
//! - 5xx answers and transport failures (timeouts, refused connections) are
//!   retried with doubling delays up to `max_attempts`; other answers end it;
//! - the queue is bounded: when full the oldest waiting request is dropped,
//!   counted and logged, and queuing never blocks.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::control::config::WebhookConfig;
use crate::room::io::{Channel, Event, OutFrame};
use crate::runtime::Host;

use super::logging::{LogSink, Scope};

/// The header carrying the request signature.
pub const SIGNATURE_HEADER: &str = "X-Huddle-Signature";

/// After shutdown, what is queued gets this long to go out.
const DRAIN_ON_SHUTDOWN: Duration = Duration::from_secs(2);

/// Fields that say where an event goes, not what happened: not posted.
const ROUTING_FIELDS: &[&str] = &[
    "StatusCallback",
    "StatusCallbackMethod",
    "RecordingStatusCallback",
    "RecordingStatusCallbackMethod",
    "EventCallbackUrl",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

struct Job {
    seq: u64,
    url: String,
    method: Method,
    params: Vec<(String, String)>,
    attempts: u32,
    not_before: Instant,
}

#[derive(Default)]
struct Queues {
    /// Per conference (`ConferenceSid`), in event order.
    by_conference: HashMap<String, VecDeque<Job>>,
    /// Conferences with a request on the wire.
    busy: HashSet<String>,
    total: usize,
    next_seq: u64,
    stopping: Option<Instant>,
}

struct Inner {
    config: WebhookConfig,
    queues: Mutex<Queues>,
    wake: Condvar,
    /// Requests dropped because the queue was full (said in each drop's log line).
    dropped: AtomicU64,
    agent: ureq::Agent,
}

/// The running delivery: owns the worker threads, stopped on drop.
pub struct Webhooks {
    inner: Arc<Inner>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Webhooks {
    pub fn start(config: &WebhookConfig, sink: &Arc<LogSink>) -> Webhooks {
        let timeout = Duration::from_millis(config.timeout_ms);
        let agent = ureq::AgentBuilder::new()
            .timeout(timeout)
            // A redirect would post the event somewhere the allow-list never saw.
            .redirects(0)
            .build();
        let inner = Arc::new(Inner {
            config: config.clone(),
            queues: Mutex::new(Queues::default()),
            wake: Condvar::new(),
            dropped: AtomicU64::new(0),
            agent,
        });
        let workers = (0..config.workers)
            .filter_map(|i| {
                let (inner, sink) = (inner.clone(), sink.clone());
                std::thread::Builder::new()
                    .name(format!("huddle-webhook-{i}"))
                    .spawn(move || {
                        let _scope = Scope::enter(&sink);
                        inner.work()
                    })
                    .map_err(|e| log::error!(target: "huddle::webhooks", "cannot start a webhook worker: {e}"))
                    .ok()
            })
            .collect();
        Webhooks {
            inner,
            workers: Mutex::new(workers),
        }
    }

    /// Queues the requests `event` calls for. Never blocks on the network.
    pub fn enqueue(&self, event: &Event) {
        self.inner.enqueue(event);
    }

    /// Stops the workers: what is queued gets `DRAIN_ON_SHUTDOWN`, without
    /// further retries; a request on the wire ends by its timeout.
    pub fn stop(&self) {
        {
            let mut q = self.inner.lock();
            if q.stopping.is_none() {
                q.stopping = Some(Instant::now() + DRAIN_ON_SHUTDOWN);
            }
        }
        self.inner.wake.notify_all();
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
        for w in workers {
            let _ = w.join();
        }
        let left = self.inner.lock().total;
        if left > 0 {
            log::warn!(target: "huddle::webhooks", "{left} webhook request(s) not delivered at shutdown");
        }
    }
}

impl Drop for Webhooks {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn allowed(&self, url: &str) -> bool {
        self.config
            .allow
            .iter()
            .any(|p| url.starts_with(p.as_str()))
    }

    fn enqueue(&self, event: &Event) {
        let Some(conference) = event.get("ConferenceSid").filter(|s| !s.is_empty()) else {
            return;
        };
        let params: Vec<(String, String)> = event
            .fields
            .iter()
            .filter(|(k, _)| !ROUTING_FIELDS.contains(k))
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        for (url, method) in destinations(event) {
            if !self.allowed(&url) {
                log::warn!(target: "huddle::webhooks", "{} of conference {conference} not posted: {url} is not under an allowed prefix",
                    event.name);
                continue;
            }
            self.push(conference, url, method, params.clone());
        }
    }

    fn push(&self, conference: &str, url: String, method: Method, params: Vec<(String, String)>) {
        let mut q = self.lock();
        if q.stopping.is_some() {
            return;
        }
        if q.total >= self.config.queue {
            self.drop_oldest(&mut q);
        }
        q.next_seq += 1;
        let job = Job {
            seq: q.next_seq,
            url,
            method,
            params,
            attempts: 0,
            not_before: Instant::now(),
        };
        q.by_conference
            .entry(conference.to_string())
            .or_default()
            .push_back(job);
        q.total += 1;
        drop(q);
        self.wake.notify_one();
    }

    /// Drops the oldest request that is not on the wire.
    fn drop_oldest(&self, q: &mut Queues) {
        let oldest = q
            .by_conference
            .iter()
            .filter_map(|(conf, jobs)| {
                // A busy conference's head is on the wire: its next is the
                // oldest that can go.
                let skip = usize::from(q.busy.contains(conf));
                jobs.get(skip).map(|j| (j.seq, conf.clone(), skip))
            })
            .min_by_key(|(seq, _, _)| *seq);
        if let Some((_, conf, index)) = oldest {
            if let Some(jobs) = q.by_conference.get_mut(&conf) {
                if let Some(job) = jobs.remove(index) {
                    q.total -= 1;
                    let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                    log::warn!(target: "huddle::webhooks", "webhook queue full ({} requests): dropped the oldest, to {} for conference {conf} ({n} dropped so far)",
                        self.config.queue, job.url);
                }
                if jobs.is_empty() {
                    q.by_conference.remove(&conf);
                }
            }
        }
    }

    /// The next request due, of a conference with nothing on the wire.
    /// Returns it (left at the head of its queue) or how long to wait.
    fn next_due(q: &Queues, now: Instant) -> Result<(String, Job), Option<Instant>> {
        let mut earliest: Option<Instant> = None;
        let mut best: Option<(&String, &Job)> = None;
        for (conf, jobs) in &q.by_conference {
            if q.busy.contains(conf) {
                continue;
            }
            let Some(head) = jobs.front() else { continue };
            if head.not_before <= now {
                if best.is_none_or(|(_, b)| head.seq < b.seq) {
                    best = Some((conf, head));
                }
            } else if earliest.is_none_or(|e| head.not_before < e) {
                earliest = Some(head.not_before);
            }
        }
        match best {
            Some((conf, head)) => Ok((
                conf.clone(),
                Job {
                    seq: head.seq,
                    url: head.url.clone(),
                    method: head.method,
                    params: head.params.clone(),
                    attempts: head.attempts,
                    not_before: head.not_before,
                },
            )),
            None => Err(earliest),
        }
    }

    fn work(&self) {
        let mut q = self.lock();
        loop {
            let now = Instant::now();
            if q.stopping.is_some_and(|t| now >= t || q.total == 0) {
                return;
            }
            let (conf, job) = match Self::next_due(&q, now) {
                Ok(next) => next,
                Err(earliest) => {
                    let wait = earliest
                        .or(q.stopping)
                        .map_or(Duration::from_secs(60), |t| {
                            t.saturating_duration_since(now)
                        });
                    q = self
                        .wake
                        .wait_timeout(q, wait.max(Duration::from_millis(1)))
                        .map_or_else(|e| e.into_inner().0, |(g, _)| g);
                    continue;
                }
            };
            q.busy.insert(conf.clone());
            drop(q);
            let outcome = self.send(&job);
            q = self.lock();
            q.busy.remove(&conf);
            let retry = match outcome {
                Outcome::Done => false,
                Outcome::Retry(why) => {
                    let attempts = job.attempts + 1;
                    if attempts < self.config.max_attempts && q.stopping.is_none() {
                        let delay = self.config.retry_base_ms << (attempts - 1).min(16);
                        log::info!(target: "huddle::webhooks", "{} for conference {conf}: {why}; retry {} of {} in {delay} ms",
                            job.url, attempts, self.config.max_attempts - 1);
                        if let Some(head) =
                            q.by_conference.get_mut(&conf).and_then(|j| j.front_mut())
                        {
                            if head.seq == job.seq {
                                head.attempts = attempts;
                                head.not_before = Instant::now() + Duration::from_millis(delay);
                            }
                        }
                        true
                    } else {
                        log::warn!(target: "huddle::webhooks", "{} for conference {conf}: {why}; giving up after {attempts} attempt(s)",
                            job.url);
                        false
                    }
                }
                Outcome::Refused(why) => {
                    log::warn!(target: "huddle::webhooks", "{} for conference {conf}: {why}; not retried", job.url);
                    false
                }
            };
            if !retry {
                let q = &mut *q;
                if let Some(jobs) = q.by_conference.get_mut(&conf) {
                    // Dropped while on the wire? Then it is no longer the head.
                    if jobs.front().is_some_and(|j| j.seq == job.seq) {
                        jobs.pop_front();
                        q.total -= 1;
                    }
                    if jobs.is_empty() {
                        q.by_conference.remove(&conf);
                    }
                }
            }
            self.wake.notify_all();
        }
    }

    fn send(&self, job: &Job) -> Outcome {
        let body = form_encode(&job.params);
        let result = match job.method {
            Method::Post => {
                let mut req = self
                    .agent
                    .post(&job.url)
                    .set("Content-Type", "application/x-www-form-urlencoded");
                if !self.config.secret.is_empty() {
                    req = req.set(
                        SIGNATURE_HEADER,
                        &signature(&self.config.secret, &job.url, &job.params),
                    );
                }
                req.send_string(&body)
            }
            Method::Get => {
                let sep = if job.url.contains('?') { '&' } else { '?' };
                let url = format!("{}{sep}{body}", job.url);
                let mut req = self.agent.get(&url);
                if !self.config.secret.is_empty() {
                    req = req.set(SIGNATURE_HEADER, &signature(&self.config.secret, &url, &[]));
                }
                req.call()
            }
        };
        match result {
            Ok(_) => Outcome::Done,
            Err(ureq::Error::Status(code, _)) if code >= 500 => {
                Outcome::Retry(format!("HTTP {code}"))
            }
            Err(ureq::Error::Status(code, _)) => Outcome::Refused(format!("HTTP {code}")),
            Err(ureq::Error::Transport(t)) => Outcome::Retry(t.to_string()),
        }
    }
}

enum Outcome {
    Done,
    Retry(String),
    Refused(String),
}

/// Where an event goes: recording events to the recording callback, the
/// others to the status callback, and `conference-end` also to the
/// `eventCallbackUrl` (always POST, as the attribute says).
fn destinations(event: &Event) -> Vec<(String, Method)> {
    let method = |key: &str| match event.get(key) {
        Some(m) if m.eq_ignore_ascii_case("GET") => Method::Get,
        _ => Method::Post,
    };
    let mut out = Vec::new();
    let (url_key, method_key) = if event.name.starts_with("recording-") {
        ("RecordingStatusCallback", "RecordingStatusCallbackMethod")
    } else {
        ("StatusCallback", "StatusCallbackMethod")
    };
    if let Some(url) = event.get(url_key).filter(|u| !u.is_empty()) {
        out.push((url.to_string(), method(method_key)));
    }
    if event.name == "conference-end" {
        if let Some(url) = event.get("EventCallbackUrl").filter(|u| !u.is_empty()) {
            out.push((url.to_string(), Method::Post));
        }
    }
    out
}

/// `application/x-www-form-urlencoded`: letters, digits and `*-._` as they
/// are, space as `+`, every other byte of the UTF-8 as `%XX`.
pub fn form_encode(params: &[(String, String)]) -> String {
    fn enc(s: &str, out: &mut String) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        enc(k, &mut out);
        out.push('=');
        enc(v, &mut out);
    }
    out
}

/// The request signature, as `X-Twilio-Signature` validators compute it:
/// base64 of HMAC-SHA1, keyed with the secret, over the full URL followed by
/// every POST parameter's name and value, sorted by name (then value). A
/// GET has its parameters in the URL and signs the URL alone.
pub fn signature(secret: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = url.to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The host, plus webhook delivery of its events.
pub struct WebhookHost {
    inner: Arc<dyn Host>,
    hooks: Webhooks,
}

impl WebhookHost {
    /// `host` as is when webhooks are off; wrapped when they are on.
    pub fn wrap(host: Arc<dyn Host>, config: &WebhookConfig, sink: &Arc<LogSink>) -> Arc<dyn Host> {
        if !config.enabled {
            return host;
        }
        log::info!(target: "huddle::webhooks", "webhook delivery on: {} worker(s), {} allowed prefix(es)",
            config.workers, config.allow.len());
        Arc::new(WebhookHost {
            inner: host,
            hooks: Webhooks::start(config, sink),
        })
    }
}

impl Host for WebhookHost {
    fn log(&self, level: log::Level, target: &str, message: &str) {
        self.inner.log(level, target, message)
    }
    fn send_audio(&self, channel: &Channel, frame: &OutFrame<'_>) {
        self.inner.send_audio(channel, frame)
    }
    fn hangup(&self, channel: &Channel, cause: u32) -> bool {
        self.inner.hangup(channel, cause)
    }
    fn event(&self, event: &Event) {
        self.inner.event(event);
        self.hooks.enqueue(event);
    }
    fn originate(&self, destination: &str, room: &str, account: &str) -> Result<(), String> {
        self.inner.originate(destination, room, account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_follows_the_html_rules() {
        let p = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            form_encode(&[p("A b", "c&d=é"), p("x", "1+2")]),
            "A+b=c%26d%3D%C3%A9&x=1%2B2"
        );
        assert_eq!(form_encode(&[]), "");
    }

    #[test]
    fn signature_matches_a_known_vector() {
        // HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog") is
        // de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9 (RFC 2104 test usage, Wikipedia).
        let sig = signature("key", "The quick brown fox jumps over the lazy dog", &[]);
        assert_eq!(sig, "3nybhbi3iqa8ino29wqQcBydtNk=");
        // Parameters are signed sorted by name.
        let p = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            signature("k", "http://h/", &[p("b", "2"), p("a", "1")]),
            signature("k", "http://h/a1b2", &[])
        );
    }
}
