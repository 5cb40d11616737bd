//! `waitUrl` over HTTP: a WAV, or a `<Response>` document of `<Play>`,
//! `<Pause>` and `<Redirect>` (the `<Conference>` subset), fetched on a
//! thread of its own and rendered into one clip the waiting caller loops.
//!
//! Until the fetch is done the caller hears the room's music on hold; a
//! fetch that fails (unreachable, 404, not a WAV, too big, not allowed) is
//! logged and the music on hold stays. Nothing here runs on a mixer or host
//! thread: the result reaches the room through its lock, like an API command.
//!
//! Bounds: `MAX_BODY` per response, `TIMEOUT` per request, `MAX_REDIRECTS`
//! documents deep, `MAX_RENDER_S` of rendered audio, `QUEUE` requests
//! waiting (more are refused with a log line), `CACHE_ENTRIES` rendered
//! clips kept for `CACHE_TTL`.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{bounded, Receiver, Sender, TrySendError};

use rustls::pki_types::CertificateDer;

use crate::audio::wav::decode_sound;
use crate::room::MemberId;

use super::http_client::{self, Failure};
use super::logging::{LogSink, Scope};
use super::rooms::RoomCell;

const MAX_BODY: u64 = 4 * 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(5);
const MAX_REDIRECTS: usize = 3;
const MAX_RENDER_S: u64 = 600;
const QUEUE: usize = 64;
const CACHE_ENTRIES: usize = 16;
const CACHE_TTL: Duration = Duration::from_secs(300);

/// Whether `url` is fetched over the network (else it names a local file).
pub fn is_remote(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// The local file a non-remote `waitUrl` names: a `file://` URL's path, or
/// the value as it is. Every local `waitUrl` goes through here first, then
/// through the one resolution (and confinement) of local sound paths.
pub fn local_path(url: &str) -> &str {
    url.strip_prefix("file://").unwrap_or(url)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
}

struct Job {
    url: String,
    method: Method,
    rate: u32,
    cell: Weak<RoomCell>,
    member: MemberId,
}

type CacheKey = (String, Method, u32);
/// A rendered clip and when it was made.
type Cached = (Arc<[i16]>, Instant);

struct Inner {
    allow: Vec<String>,
    tls_roots: Vec<CertificateDer<'static>>,
    /// Made at the first fetch: most modules never fetch, and the client
    /// reads the system's CA store.
    agent: OnceLock<ureq::Agent>,
    cache: Mutex<HashMap<CacheKey, Cached>>,
}

pub struct WaitFetcher {
    tx: Sender<Option<Job>>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl WaitFetcher {
    /// `allow`: URL prefixes a remote `waitUrl` (and what its document
    /// names) may be fetched from; empty = none. `tls_roots`: CAs trusted
    /// besides the system's.
    pub fn start(
        allow: Vec<String>,
        tls_roots: &[CertificateDer<'static>],
        sink: &Arc<LogSink>,
    ) -> WaitFetcher {
        let (tx, rx) = bounded::<Option<Job>>(QUEUE);
        let inner = Arc::new(Inner {
            allow,
            tls_roots: tls_roots.to_vec(),
            agent: OnceLock::new(),
            cache: Mutex::new(HashMap::new()),
        });
        let sink = sink.clone();
        let worker = std::thread::Builder::new()
            .name("huddle-wait-url".into())
            .spawn(move || {
                let _scope = Scope::enter(&sink);
                inner.run(rx)
            })
            .map_err(|e| log::error!(target: "huddle::wait_url", "cannot start the waitUrl fetcher: {e}"))
            .ok();
        WaitFetcher {
            tx,
            worker: Mutex::new(worker),
        }
    }

    /// Asks for `url` to become `member`'s wait music. Never blocks.
    pub fn request(
        &self,
        url: &str,
        method: Method,
        rate: u32,
        cell: &Arc<RoomCell>,
        member: MemberId,
    ) {
        let job = Job {
            url: url.to_string(),
            method,
            rate,
            cell: Arc::downgrade(cell),
            member,
        };
        match self.tx.try_send(Some(job)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                log::error!(target: "huddle::wait_url", "waitUrl {url} not fetched: {QUEUE} fetches already waiting; music on hold instead");
            }
        }
    }

    pub fn stop(&self) {
        let _ = self.tx.try_send(None);
        if let Some(w) = self.worker.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = w.join();
        }
    }
}

impl Drop for WaitFetcher {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Inner {
    fn run(&self, rx: Receiver<Option<Job>>) {
        while let Ok(Some(job)) = rx.recv() {
            // A caller that left while the fetch waited needs nothing.
            if job.cell.strong_count() == 0 {
                continue;
            }
            match self.music(&job.url, job.method, job.rate) {
                Ok(music) => {
                    if let Some(cell) = job.cell.upgrade() {
                        cell.lock().room.set_wait_music(job.member, music);
                    }
                }
                Err(why) => {
                    log::error!(target: "huddle::wait_url", "waitUrl {}: {why}; music on hold instead", job.url);
                }
            }
        }
    }

    fn music(&self, url: &str, method: Method, rate: u32) -> Result<Arc<[i16]>, String> {
        let key = (url.to_string(), method, rate);
        {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
            if let Some((music, _)) = cache.get(&key) {
                return Ok(music.clone());
            }
        }
        let mut out = Vec::new();
        self.render(url, method, rate, 0, &mut out)?;
        if out.is_empty() {
            return Err("the document plays nothing".into());
        }
        let music: Arc<[i16]> = out.into();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key, (music.clone(), Instant::now()));
        Ok(music)
    }

    fn agent(&self) -> &ureq::Agent {
        self.agent
            .get_or_init(|| http_client::agent(TIMEOUT, &self.tls_roots))
    }

    fn fetch(&self, url: &str, method: Method) -> Result<Vec<u8>, String> {
        if !self.allow.iter().any(|p| url.starts_with(p.as_str())) {
            return Err(format!(
                "{url} is not under a prefix of [module] wait_url_allow"
            ));
        }
        let response = match method {
            Method::Get => self.agent().get(url).call(),
            Method::Post => self
                .agent()
                .post(url)
                .set("Content-Type", "application/x-www-form-urlencoded")
                .send_string(""),
        }
        .map_err(|e| Failure::from(e).to_string())?;
        let mut body = Vec::new();
        response
            .into_reader()
            .take(MAX_BODY + 1)
            .read_to_end(&mut body)
            .map_err(|e| e.to_string())?;
        if body.len() as u64 > MAX_BODY {
            return Err(format!("larger than {MAX_BODY} bytes"));
        }
        Ok(body)
    }

    /// Appends what `url` plays (a WAV, or a document followed) to `out`.
    fn render(
        &self,
        url: &str,
        method: Method,
        rate: u32,
        depth: usize,
        out: &mut Vec<i16>,
    ) -> Result<(), String> {
        let body = self.fetch(url, method)?;
        if body.starts_with(b"RIFF") {
            return self.append(out, &decode(&body, rate, url)?, 1, rate);
        }
        let text = std::str::from_utf8(&body).map_err(|_| "neither a WAV nor a document")?;
        for verb in parse_document(text)? {
            match verb {
                Verb::Play { url: clip, times } => {
                    let clip = absolute(url, &clip)?;
                    let body = self.fetch(&clip, Method::Get)?;
                    self.append(out, &decode(&body, rate, &clip)?, times, rate)?;
                }
                Verb::Pause { seconds } => {
                    let silence = vec![0i16; (u64::from(rate) * seconds) as usize];
                    self.append(out, &silence, 1, rate)?;
                }
                Verb::Redirect { url: next, method } => {
                    if depth >= MAX_REDIRECTS {
                        return Err(format!("more than {MAX_REDIRECTS} redirects"));
                    }
                    let next = absolute(url, &next)?;
                    // What follows a <Redirect> is never reached.
                    return self.render(&next, method, rate, depth + 1, out);
                }
            }
        }
        Ok(())
    }

    fn append(
        &self,
        out: &mut Vec<i16>,
        clip: &[i16],
        times: u32,
        rate: u32,
    ) -> Result<(), String> {
        let limit = (MAX_RENDER_S * u64::from(rate)) as usize;
        for _ in 0..times {
            if out.len() + clip.len() > limit {
                return Err(format!("renders longer than {MAX_RENDER_S} s"));
            }
            out.extend_from_slice(clip);
        }
        Ok(())
    }
}

fn decode(body: &[u8], rate: u32, url: &str) -> Result<Vec<i16>, String> {
    decode_sound(body, rate, Path::new(url)).map_err(|e| e.to_string())
}

/// `next` made absolute against the document at `base` (`/path` and
/// `name` forms; `http(s)://` as is).
fn absolute(base: &str, next: &str) -> Result<String, String> {
    if is_remote(next) {
        return Ok(next.to_string());
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    if next.starts_with('/') {
        return Ok(format!("{}{next}", &base[..host_end]));
    }
    if next.is_empty() || next.contains("://") {
        return Err(format!("'{next}' is not a URL"));
    }
    let path = &base[host_end..];
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    Ok(format!("{}{dir}{next}", &base[..host_end]))
}

#[derive(Debug, PartialEq)]
enum Verb {
    Play { url: String, times: u32 },
    Pause { seconds: u64 },
    Redirect { url: String, method: Method },
}

/// The `<Response>` subset: `<Play loop="N">url</Play>` (N 1..100; `0`,
/// "for ever", plays once: the rendered document loops anyway),
/// `<Pause length="S"/>` (1..60, default 1), `<Redirect method="GET|POST">url</Redirect>`.
/// Anything else is an error naming it.
fn parse_document(text: &str) -> Result<Vec<Verb>, String> {
    let body = text.trim_start_matches('\u{feff}').trim();
    let body = match body.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .ok_or("unterminated <?xml ?>")?
            .1
            .trim(),
        None => body,
    };
    let inner = body
        .strip_prefix("<Response>")
        .and_then(|r| r.strip_suffix("</Response>"))
        .ok_or("not a <Response> document")?;
    let mut verbs = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        if verbs.len() >= 100 {
            return Err("more than 100 verbs".into());
        }
        let open_end = rest.find('>').ok_or("unterminated tag")?;
        let tag = rest[..open_end]
            .strip_prefix('<')
            .ok_or_else(|| format!("text outside a verb: '{}'", excerpt(rest)))?;
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/').trim();
        let (name, attrs) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
        let attrs = parse_attrs(attrs)?;
        let (content, after) = if self_closing {
            (String::new(), &rest[open_end + 1..])
        } else {
            let close = format!("</{name}>");
            let body = &rest[open_end + 1..];
            let end = body
                .find(&close)
                .ok_or_else(|| format!("<{name}> is not closed"))?;
            (unescape(body[..end].trim()), &body[end + close.len()..])
        };
        let attr = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        verbs.push(match name {
            "Play" => {
                let times = match attr("loop") {
                    None => 1,
                    Some(n) => match n.parse::<u32>() {
                        Ok(0) => 1,
                        Ok(n) if n <= 100 => n,
                        _ => return Err(format!("<Play loop=\"{n}\">: expected 0..100")),
                    },
                };
                Verb::Play {
                    url: content,
                    times,
                }
            }
            "Pause" => {
                let seconds = match attr("length") {
                    None => 1,
                    Some(s) => match s.parse::<u64>() {
                        Ok(s) if (1..=60).contains(&s) => s,
                        _ => return Err(format!("<Pause length=\"{s}\">: expected 1..60")),
                    },
                };
                Verb::Pause { seconds }
            }
            "Redirect" => Verb::Redirect {
                url: content,
                method: match attr("method").map(str::to_ascii_uppercase).as_deref() {
                    None | Some("POST") => Method::Post,
                    Some("GET") => Method::Get,
                    Some(m) => {
                        return Err(format!("<Redirect method=\"{m}\">: expected GET or POST"))
                    }
                },
            },
            other => return Err(format!("<{other}> is not allowed in a waitUrl document")),
        });
        rest = after.trim();
    }
    Ok(verbs)
}

fn parse_attrs(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once('=')
            .ok_or_else(|| format!("bad attribute '{}'", excerpt(rest)))?;
        let after = after.trim_start();
        let quote = after
            .chars()
            .next()
            .filter(|c| *c == '"' || *c == '\'')
            .ok_or_else(|| format!("attribute {} is not quoted", name.trim()))?;
        let end = after[1..]
            .find(quote)
            .ok_or_else(|| format!("attribute {} is not closed", name.trim()))?;
        out.push((name.trim().to_string(), unescape(&after[1..1 + end])));
        rest = after[end + 2..].trim_start();
    }
    Ok(out)
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn excerpt(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_parse_into_the_verbs_in_order() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
            <Response>
              <Play loop="2">http://h/a.wav</Play>
              <Pause length="3"/>
              <Play>b&amp;c.wav</Play>
              <Redirect method="GET">/next.xml</Redirect>
            </Response>"#;
        assert_eq!(
            parse_document(doc).unwrap(),
            vec![
                Verb::Play {
                    url: "http://h/a.wav".into(),
                    times: 2
                },
                Verb::Pause { seconds: 3 },
                Verb::Play {
                    url: "b&c.wav".into(),
                    times: 1
                },
                Verb::Redirect {
                    url: "/next.xml".into(),
                    method: Method::Get
                },
            ]
        );
    }

    #[test]
    fn bad_documents_say_what_is_wrong() {
        for (doc, says) in [
            ("<Response><Say>hi</Say></Response>", "<Say>"),
            ("<Response><Play loop=\"x\">a</Play></Response>", "loop"),
            ("<Response><Pause length=\"99\"/></Response>", "length"),
            ("<Response><Play>a</Response>", "not closed"),
            ("hello", "not a <Response>"),
        ] {
            let e = parse_document(doc).unwrap_err();
            assert!(e.contains(says), "{doc}: {e}");
        }
    }

    #[test]
    fn relative_urls_resolve_against_the_document() {
        assert_eq!(
            absolute("http://h:1/d/x.xml", "a.wav").unwrap(),
            "http://h:1/d/a.wav"
        );
        assert_eq!(
            absolute("http://h:1/d/x.xml?q=1", "/b.wav").unwrap(),
            "http://h:1/b.wav"
        );
        assert_eq!(absolute("http://h:1", "c.wav").unwrap(), "http://h:1/c.wav");
        assert_eq!(absolute("http://h/x", "http://o/y").unwrap(), "http://o/y");
        assert!(absolute("http://h/x", "ftp://o/y").is_err());
    }

    #[test]
    fn file_urls_are_local_paths() {
        assert_eq!(local_path("file:///srv/hold.wav"), "/srv/hold.wav");
        assert_eq!(local_path("hold.wav"), "hold.wav");
        assert!(is_remote("https://x/") && !is_remote("file:///x"));
    }
}
