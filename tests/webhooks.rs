//! Webhook delivery (issue 19) against HTTP servers the test runs on
//! 127.0.0.1: what arrives, in which order, retries, the signature (checked
//! by Python's hmac, an implementation independent of huddle's), and that a
//! server that never answers delays neither audio nor other rooms.
mod common;
use common::*;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

impl Request {
    /// The form parameters, decoded, in the order sent.
    fn params(&self) -> Vec<(String, String)> {
        let query = match self.method.as_str() {
            "GET" => self.path.split_once('?').map_or("", |(_, q)| q).to_string(),
            _ => self.body.clone(),
        };
        query
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (form_decode(k), form_decode(v))
            })
            .collect()
    }

    fn param(&self, key: &str) -> Option<String> {
        self.params()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// How the server answers a request to a path.
#[derive(Clone)]
enum Behaviour {
    Ok,
    /// 200 with this body.
    Serve(Vec<u8>),
    /// The same, after this long.
    SlowServe(Duration, Vec<u8>),
    NotFound,
    /// 500 to the first N requests to the path, then 200.
    FailFirst(usize),
    /// Reads the request and never answers.
    Silent,
}

struct Server {
    port: u16,
    scheme: &'static str,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl Server {
    fn start(behaviour: impl Fn(&str) -> Behaviour + Send + Sync + 'static) -> Server {
        Self::start_with(None, behaviour)
    }

    /// An HTTPS server presenting `cert` (a certificate and its key).
    fn start_tls(
        cert: &ServerCert,
        behaviour: impl Fn(&str) -> Behaviour + Send + Sync + 'static,
    ) -> Server {
        Self::start_with(Some(cert.server_config()), behaviour)
    }

    fn start_with(
        tls: Option<Arc<rustls::ServerConfig>>,
        behaviour: impl Fn(&str) -> Behaviour + Send + Sync + 'static,
    ) -> Server {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let behaviour: Arc<dyn Fn(&str) -> Behaviour + Send + Sync> = Arc::new(behaviour);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (reqs, stopping) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            // Bounded by the test's lifetime: the flag ends it.
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (reqs, seen, stopping) = (reqs.clone(), seen.clone(), stopping.clone());
                        let (behaviour, tls) = (behaviour.clone(), tls.clone());
                        stream.set_nonblocking(false).ok();
                        stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
                        std::thread::spawn(move || match tls {
                            None => serve(stream, &*behaviour, reqs, seen, stopping),
                            Some(config) => {
                                let conn = rustls::ServerConnection::new(config).unwrap();
                                let mut tls = rustls::StreamOwned::new(conn, stream);
                                serve(&mut tls, &*behaviour, reqs, seen, stopping);
                                tls.conn.send_close_notify();
                                let _ = tls.flush();
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Server {
            port,
            scheme,
            requests,
            stop,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}://127.0.0.1:{}{path}", self.scheme, self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits (bounded) until `n` requests to paths starting with `prefix` arrived.
    fn wait_for(&self, prefix: &str, n: usize, within: Duration) -> Vec<Request> {
        let deadline = Instant::now() + within;
        loop {
            let got: Vec<Request> = self
                .requests()
                .into_iter()
                .filter(|r| r.path.starts_with(prefix))
                .collect();
            if got.len() >= n || Instant::now() >= deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(
    mut stream: impl Read + Write,
    behaviour: &(dyn Fn(&str) -> Behaviour + Send + Sync),
    reqs: Arc<Mutex<Vec<Request>>>,
    seen: Arc<Mutex<HashMap<String, usize>>>,
    stop: Arc<AtomicBool>,
) {
    let mut reader = BufReader::new(&mut stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = HashMap::new();
    for _ in 0..100 {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len.min(1 << 20)];
    reader.read_exact(&mut body).ok();
    drop(reader);
    let req = Request {
        method,
        path: path.clone(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    reqs.lock().unwrap().push(req);
    let base = path.split('?').next().unwrap_or("").to_string();
    let n = {
        let mut s = seen.lock().unwrap();
        let n = s.entry(base.clone()).or_default();
        *n += 1;
        *n
    };
    let mut body = Vec::new();
    let status = match behaviour(&base) {
        Behaviour::Ok => "200 OK",
        Behaviour::Serve(b) => {
            body = b;
            "200 OK"
        }
        Behaviour::SlowServe(delay, b) => {
            std::thread::sleep(delay);
            body = b;
            "200 OK"
        }
        Behaviour::NotFound => "404 Not Found",
        Behaviour::FailFirst(k) if n <= k => "500 Internal Server Error",
        Behaviour::FailFirst(_) => "200 OK",
        Behaviour::Silent => {
            // Holds the connection open until the test ends.
            let deadline = Instant::now() + Duration::from_secs(30);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            return;
        }
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(&body);
}

/// `extra` may override any key but the first three (TOML refuses a key twice).
fn webhooks_config(port: u16, extra: &str) -> String {
    let mut keys = vec![
        "timeout_ms = 1000".to_string(),
        "retry_base_ms = 50".to_string(),
    ];
    keys.retain(|k| {
        let name = k.split(' ').next().unwrap_or("");
        !extra.lines().any(|l| l.starts_with(name))
    });
    format!(
        "{MODULE_MANUAL}\n[webhooks]\nenabled = true\nallow = [\"http://127.0.0.1:{port}/\"]\n\
         secret = \"s3cret\"\n{}\n{extra}\n",
        keys.join("\n")
    )
}

const WAIT: Duration = Duration::from_secs(10);

// ---- HTTPS

/// A server certificate for 127.0.0.1 and the CA that signed it, made by the
/// openssl CLI: an implementation apart from the rustls huddle uses.
struct ServerCert {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl ServerCert {
    fn make(dir: &Path, tag: &str) -> ServerCert {
        let file = |name: &str| dir.join(format!("{tag}-{name}"));
        let (ca, ca_key, key, csr, cert, ext) = (
            file("ca.pem"),
            file("ca.key"),
            file("server.key"),
            file("server.csr"),
            file("server.pem"),
            file("server.ext"),
        );
        std::fs::write(
            &ext,
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let p = |p: &PathBuf| p.to_str().unwrap().to_string();
        let subject = format!("/CN=huddle test CA {tag}");
        openssl(
            &[
                &["req", "-x509"][..],
                &ec[..],
                &["-days", "2", "-subj", &subject],
            ]
            .concat(),
            &[("-keyout", p(&ca_key)), ("-out", p(&ca))],
            &[
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ],
        );
        openssl(
            &[&["req"][..], &ec[..], &["-subj", "/CN=127.0.0.1"]].concat(),
            &[("-keyout", p(&key)), ("-out", p(&csr))],
            &[],
        );
        openssl(
            &["x509", "-req", "-days", "2", "-CAcreateserial"],
            &[
                ("-in", p(&csr)),
                ("-CA", p(&ca)),
                ("-CAkey", p(&ca_key)),
                ("-out", p(&cert)),
                ("-extfile", p(&ext)),
            ],
            &[],
        );
        ServerCert { ca, cert, key }
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.cert)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_file(&self.key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap(),
        )
    }
}

fn openssl(args: &[&str], files: &[(&str, String)], tail: &[&str]) {
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(args);
    for (flag, path) in files {
        cmd.args([flag, path.as_str()]);
    }
    cmd.args(tail);
    let out = cmd.output().expect("the openssl CLI runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Webhooks to `server` (http or https), huddle trusting `ca` besides the system's CAs.
fn tls_webhooks_config(server: &Server, ca: &Path) -> String {
    format!(
        "{MODULE_MANUAL}tls_ca_file = \"{}\"\n[webhooks]\nenabled = true\n\
         allow = [\"{}\"]\nsecret = \"s3cret\"\ntimeout_ms = 2000\nretry_base_ms = 50\n",
        ca.display(),
        server.url("/")
    )
}

#[test]
fn https_callbacks_reach_a_server_certified_by_the_configured_ca() {
    let dir = scratch_dir("https");
    let cert = ServerCert::make(&dir, "good");
    let server = Server::start_tls(&cert, |_| Behaviour::Ok);
    let h = Harness::in_dir(dir, &tls_webhooks_config(&server, &cert.ca));
    let cb = server.url("/status");
    assert!(cb.starts_with("https://"));
    let a = h
        .join("a", &format!("{{statusCallback={cb},beep=false}}secure"))
        .unwrap();
    let b = h.join("b", "{beep=false}secure").unwrap();
    h.hangup(&a);
    h.hangup(&b);
    let posts = every_event_posted(&h, &server, "/status");
    // The signature covers the https URL the application sees.
    let url = server.url(&posts[0].path);
    assert_eq!(
        posts[0].headers.get("x-huddle-signature"),
        Some(&python_signature("s3cret", &url, &posts[0].params()))
    );
}

#[test]
fn an_untrusted_https_server_is_refused_with_the_url_and_the_reason() {
    let dir = scratch_dir("https-untrusted");
    let trusted = ServerCert::make(&dir, "trusted");
    // Signed by a CA huddle was not told about (and the system does not know).
    let stranger = ServerCert::make(&dir, "stranger");
    let server = Server::start_tls(&stranger, |_| Behaviour::Ok);
    let h = Harness::in_dir(dir, &tls_webhooks_config(&server, &trusted.ca));
    let cb = server.url("/status");
    h.join(
        "a",
        &format!("{{statusCallback={cb},statusCallbackEvent=join}}r"),
    )
    .unwrap();
    let deadline = Instant::now() + WAIT;
    let refusal = |h: &Harness| {
        h.logs()
            .into_iter()
            .filter(|l| l.contains(&cb) && l.contains("certificate"))
            .collect::<Vec<_>>()
    };
    while refusal(&h).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        h.flush();
    }
    let lines = refusal(&h);
    assert_eq!(lines.len(), 1, "one refusal, not retried: {:?}", h.logs());
    assert!(
        lines[0].contains("not trusted") && lines[0].contains("UnknownIssuer"),
        "{}",
        lines[0]
    );
    h.shutdown();
    assert!(server.requests().is_empty(), "no request reached it");
}

#[test]
fn events_are_posted_in_order_with_the_seed_parameters_and_a_signature() {
    let server = Server::start(|_| Behaviour::Ok);
    let h = Harness::with_config(&webhooks_config(server.port, ""));
    let cb = server.url("/status");
    let end_cb = server.url("/end");
    let a = h
        .join(
            "a",
            &format!("{{statusCallback={cb},eventCallbackUrl={end_cb},beep=false}}room one"),
        )
        .unwrap();
    let b = h.join("b", "{beep=false}room one").unwrap();
    h.api("mute 'room one' 2");
    h.advance(2_000);
    h.hangup(&a);
    h.hangup(&b);
    // Every event of the room, in SequenceNumber order, with its fields.
    let posts = every_event_posted(&h, &server, "/status");
    let seqs: Vec<u64> = posts
        .iter()
        .map(|r| r.param("SequenceNumber").unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let join = &posts[0];
    assert_eq!(join.method, "POST");
    assert_eq!(
        join.headers.get("content-type").map(String::as_str),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(join.param("FriendlyName").as_deref(), Some("room one"));
    assert_eq!(join.param("CallSid").as_deref(), Some("CA-a"));
    assert_eq!(join.param("StatusCallback"), None, "routing is not posted");
    // conference-end also goes to eventCallbackUrl, with the ending call.
    let ends = server.wait_for("/end", 1, WAIT);
    assert_eq!(ends.len(), 1);
    assert_eq!(
        ends[0].param("StatusCallbackEvent").as_deref(),
        Some("conference-end")
    );
    assert_eq!(
        ends[0].param("CallSidEndingConference").as_deref(),
        Some("CA-b")
    );
    // The signature, computed by Python's hmac over URL + sorted params.
    for req in [join, &ends[0]] {
        let url = server.url(&req.path);
        let expected = python_signature("s3cret", &url, &req.params());
        assert_eq!(
            req.headers.get("x-huddle-signature"),
            Some(&expected),
            "{url}"
        );
    }
}

/// Waits for a post to `path` per event the host got, and checks they are
/// those events in order.
fn every_event_posted(h: &Harness, server: &Server, path: &str) -> Vec<Request> {
    let delivered = h.events();
    let posts = server.wait_for(path, delivered.len(), WAIT);
    let names: Vec<String> = posts
        .iter()
        .map(|r| r.param("StatusCallbackEvent").unwrap())
        .collect();
    let expected: Vec<String> = delivered.iter().map(|e| e.name.clone()).collect();
    assert_eq!(names, expected, "every event, in order");
    posts
}

/// X-Twilio-Signature-style: base64(HMAC-SHA1(secret, url + k1v1k2v2...)),
/// parameters sorted by name, as an application would check it.
fn python_signature(secret: &str, url: &str, params: &[(String, String)]) -> String {
    let script = r#"
import base64, hashlib, hmac, json, sys
secret, url, params = json.loads(sys.stdin.read())
data = url + "".join(k + v for k, v in sorted(params))
print(base64.b64encode(hmac.new(secret.encode(), data.encode(), hashlib.sha1).digest()).decode())
"#;
    let input = serde_json::json!([secret, url, params]).to_string();
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn a_500_is_retried_and_order_is_kept() {
    let server = Server::start(|p| {
        if p == "/flaky" {
            Behaviour::FailFirst(2)
        } else {
            Behaviour::Ok
        }
    });
    let h = Harness::with_config(&webhooks_config(server.port, ""));
    let cb = server.url("/flaky");
    h.join("a", &format!("{{statusCallback={cb},beep=false}}r"))
        .unwrap();
    h.join("b", "{beep=false}r").unwrap();
    h.api("lock r");
    let n = h.events().len();
    // Two 500s on the first event, then everything.
    let posts = server.wait_for("/flaky", n + 2, WAIT);
    let seqs: Vec<String> = posts
        .iter()
        .map(|r| r.param("SequenceNumber").unwrap())
        .collect();
    let mut expected = vec!["1".to_string(); 3];
    expected.extend((2..=n).map(|i| i.to_string()));
    assert_eq!(
        seqs, expected,
        "the first event three times, then the rest in order"
    );
    h.flush();
    assert!(h.logged("HTTP 500; retry 1 of 3"), "{:?}", h.logs());
}

#[test]
fn get_method_sends_the_parameters_in_the_query() {
    let server = Server::start(|_| Behaviour::Ok);
    let h = Harness::with_config(&webhooks_config(server.port, ""));
    let cb = server.url("/g?x=1");
    h.join(
        "a",
        &format!("{{statusCallback={cb},statusCallbackMethod=GET,statusCallbackEvent=join}}r"),
    )
    .unwrap();
    let got = server.wait_for("/g", 1, WAIT);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "GET");
    assert_eq!(got[0].param("x").as_deref(), Some("1"));
    assert_eq!(
        got[0].param("StatusCallbackEvent").as_deref(),
        Some("participant-join")
    );
    // A GET signs its URL, query included.
    let url = server.url(&got[0].path);
    assert_eq!(
        got[0].headers.get("x-huddle-signature"),
        Some(&python_signature("s3cret", &url, &[]))
    );
}

#[test]
fn a_url_outside_the_allow_list_is_not_contacted() {
    let server = Server::start(|_| Behaviour::Ok);
    let other = Server::start(|_| Behaviour::Ok);
    let h = Harness::with_config(&webhooks_config(server.port, ""));
    let bad = other.url("/x");
    let good = server.url("/ok");
    h.join("a", &format!("{{statusCallback={bad}}}r1")).unwrap();
    h.join("b", &format!("{{statusCallback={good}}}r2"))
        .unwrap();
    assert_eq!(server.wait_for("/ok", 1, WAIT).len(), 1);
    h.shutdown();
    assert!(other.requests().is_empty());
    assert!(h.logged("not under an allowed prefix"));
}

#[test]
fn a_server_that_never_answers_delays_neither_audio_nor_other_rooms() {
    let server = Server::start(|p| {
        if p == "/silent" {
            Behaviour::Silent
        } else {
            Behaviour::Ok
        }
    });
    let h = Harness::with_config(&webhooks_config(
        server.port,
        "timeout_ms = 4000\nmax_attempts = 1\n",
    ));
    let silent = server.url("/silent");
    let fine = server.url("/fine");
    let a = h
        .join("a", &format!("{{statusCallback={silent},beep=false}}stuck"))
        .unwrap();
    let b = h.join("b", "{beep=false}stuck").unwrap();
    // The stuck room's first request is on the wire and will hang 4 s.
    assert_eq!(server.wait_for("/silent", 1, WAIT).len(), 1);
    let started = Instant::now();
    h.join("c", &format!("{{statusCallback={fine},beep=false}}other"))
        .unwrap();
    h.join("d", "{beep=false}other").unwrap();
    // Audio keeps flowing in the stuck room: 2 s of media in well under the
    // webhook timeout, and the listener hears the talker.
    h.talk(&[(&a, A)], 2_000);
    assert!(h.hears("b", A, 1_000) > AUDIBLE / 4.0);
    let n_other = h
        .events()
        .iter()
        .filter(|e| e.get("FriendlyName") == Some("other"))
        .count();
    let other = server.wait_for("/fine", n_other, WAIT);
    assert_eq!(other.len(), n_other);
    assert!(
        started.elapsed() < Duration::from_millis(3_500),
        "the other room's callbacks and 2 s of audio took {:?} while one server hung",
        started.elapsed()
    );
    let _ = b;
}

#[test]
fn a_full_queue_drops_the_oldest_and_says_so() {
    let server = Server::start(|_| Behaviour::Silent);
    let h = Harness::with_config(&webhooks_config(
        server.port,
        "timeout_ms = 2000\nmax_attempts = 1\nqueue = 2\nworkers = 1\n",
    ));
    let cb = server.url("/silent");
    let a = h
        .join("a", &format!("{{statusCallback={cb},beep=false}}r"))
        .unwrap();
    h.join("b", "{beep=false}r").unwrap();
    for _ in 0..3 {
        h.api("mute r all");
        h.api("unmute r all");
    }
    let _ = a;
    assert!(h.logged("webhook queue full"), "{:?}", h.logs());
}

// ---- waitUrl over HTTP

/// A 0.5 s tone as WAV bytes (written with the test's own WAV writer).
fn tone_wav_bytes(dir: &std::path::Path, name: &str, freq: f64) -> Vec<u8> {
    let path = dir.join(name);
    write_tone_wav(&path, RATE, freq, 0.5, 8000.0);
    std::fs::read(path).unwrap()
}

/// A harness whose room music is MOH and whose waitUrls may come from `port`.
fn wait_harness(dir: std::path::PathBuf, port: u16) -> Harness {
    write_tone_wav(&dir.join("sounds/hold.wav"), RATE, MOH, 2.0, 6000.0);
    Harness::in_dir(
        dir,
        &format!("{MODULE_MANUAL}wait_url_allow = [\"http://127.0.0.1:{port}/\"]\n"),
    )
}

#[test]
fn a_wait_url_is_fetched_over_https() {
    let dir = scratch_dir("waiturl-https");
    let a_wav = tone_wav_bytes(&dir, "a.wav", A);
    let cert = ServerCert::make(&dir, "wait");
    let stranger = ServerCert::make(&dir, "wait-stranger");
    let serve_a = move |path: &str| match path {
        "/a.wav" => Behaviour::Serve(a_wav.clone()),
        _ => Behaviour::NotFound,
    };
    let server = Server::start_tls(&cert, serve_a.clone());
    let untrusted = Server::start_tls(&stranger, serve_a);
    write_tone_wav(&dir.join("sounds/hold.wav"), RATE, MOH, 2.0, 6000.0);
    let h = Harness::in_dir(
        dir,
        &format!(
            "{MODULE_MANUAL}tls_ca_file = \"{}\"\nwait_url_allow = [\"{}\", \"{}\"]\n",
            cert.ca.display(),
            server.url("/"),
            untrusted.url("/")
        ),
    );
    h.join("a", &format!("{{waitUrl={}}}r", server.url("/a.wav")))
        .unwrap();
    assert!(advance_until_heard(&h, "a", A), "the clip fetched over TLS");
    assert_eq!(server.requests().len(), 1);
    // A server whose certificate huddle does not trust: the log says which
    // and why, and the caller hears the room's music.
    let bad = untrusted.url("/a.wav");
    h.join("b", &format!("{{waitUrl={bad}}}r2")).unwrap();
    assert!(advance_until_heard(&h, "b", MOH), "the room's music");
    let deadline = Instant::now() + WAIT;
    let refused = |h: &Harness| {
        h.logged(&format!(
            "waitUrl {bad}: TLS: the server's certificate is not trusted (UnknownIssuer)"
        ))
    };
    while !refused(&h) && Instant::now() < deadline {
        h.advance(TICK_MS);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(refused(&h), "{:?}", h.logs());
    assert!(untrusted.requests().is_empty());
    h.clear_heard();
    h.advance(500);
    assert!(h.hears("b", A, 400) < SILENT, "never the untrusted clip");
}

/// Advances in ticks until `channel` hears `freq` (the fetch runs in real
/// time beside the manual clock); bounded in ticks and wall time.
fn advance_until_heard(h: &Harness, channel: &str, freq: f64) -> bool {
    let deadline = Instant::now() + WAIT;
    for _ in 0..2_000 {
        h.advance(TICK_MS);
        if h.hears(channel, freq, TICK_MS) > AUDIBLE / 4.0 {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// Amplitude of `freq` in `[from_ms, to_ms)` of what `channel` heard.
fn window(h: &Harness, channel: &str, freq: f64, from_ms: usize, to_ms: usize) -> f64 {
    let pcm = h.heard(channel).pcm;
    let at = |ms: usize| (ms * RATE as usize / 1000).min(pcm.len());
    tone_amplitude(&pcm[at(from_ms)..at(to_ms)], freq, RATE)
}

#[test]
fn a_wait_url_document_is_followed_play_pause_redirect() {
    let dir = scratch_dir("waiturl");
    let (a_wav, b_wav) = (
        tone_wav_bytes(&dir, "a.wav", A),
        tone_wav_bytes(&dir, "b.wav", B),
    );
    let server = Server::start(move |path| match path {
        "/doc.xml" => Behaviour::Serve(
            b"<?xml version=\"1.0\"?>\n<Response>\n  <Play loop=\"2\">/clips/a.wav</Play>\n  \
              <Pause length=\"1\"/>\n  <Redirect method=\"GET\">/next/doc2.xml</Redirect>\n  \
              <Play>never.wav</Play>\n</Response>\n"
                .to_vec(),
        ),
        "/next/doc2.xml" => Behaviour::Serve(b"<Response><Play>b.wav</Play></Response>".to_vec()),
        "/clips/a.wav" => Behaviour::Serve(a_wav.clone()),
        "/next/b.wav" => Behaviour::Serve(b_wav.clone()),
        _ => Behaviour::NotFound,
    });
    let h = wait_harness(dir, server.port);
    let url = server.url("/doc.xml");
    h.join("a", &format!("{{waitUrl={url},waitMethod=GET}}r"))
        .unwrap();
    assert!(
        advance_until_heard(&h, "a", A),
        "the document's first clip plays"
    );
    // The clip started at the tick just heard: 20 ms of it are gone. Then:
    // A twice (to 980 ms), a second of silence, B (to 2480 ms), and again.
    h.clear_heard();
    h.advance(3_000);
    assert!(window(&h, "a", A, 100, 900) > AUDIBLE, "A, looped twice");
    assert!(window(&h, "a", MOH, 100, 900) < SILENT, "no room music now");
    let pause = &h.heard("a").pcm[(1_100 * 16)..(1_900 * 16)];
    assert!(
        rms(pause) < SILENT,
        "the pause is silent: rms {}",
        rms(pause)
    );
    assert!(
        window(&h, "a", B, 2_050, 2_400) > AUDIBLE,
        "B after the redirect"
    );
    assert!(
        window(&h, "a", A, 2_550, 2_950) > AUDIBLE,
        "and round again"
    );
    let reqs = server.requests();
    let paths: Vec<(&str, &str)> = reqs
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            ("GET", "/doc.xml"),
            ("GET", "/clips/a.wav"),
            ("GET", "/next/doc2.xml"),
            ("GET", "/next/b.wav"),
        ],
        "waitMethod and the redirect's method honoured; nothing after <Redirect>"
    );
}

#[test]
fn an_unreachable_wait_url_falls_back_to_the_room_music() {
    let dir = scratch_dir("waiturl404");
    let server = Server::start(|_| Behaviour::NotFound);
    let h = wait_harness(dir, server.port);
    let url = server.url("/missing.wav");
    h.join("a", &format!("{{waitUrl={url}}}r")).unwrap();
    let reqs = server.wait_for("/missing.wav", 1, WAIT);
    assert_eq!(reqs[0].method, "POST", "waitMethod defaults to POST");
    // The error reaches the log; the caller hears the room's music.
    let deadline = Instant::now() + WAIT;
    while !h.logged("HTTP 404") && Instant::now() < deadline {
        h.advance(TICK_MS);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(h.logged("HTTP 404"), "{:?}", h.logs());
    h.clear_heard();
    h.advance(1_000);
    assert!(
        h.hears("a", MOH, 800) > AUDIBLE / 2.0,
        "music on hold, not silence"
    );
    // A URL outside the allow-list is never fetched.
    let other = Server::start(|_| Behaviour::Ok);
    h.join("b", &format!("{{waitUrl={}}}r2", other.url("/x.wav")))
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while !h.logged("wait_url_allow") && Instant::now() < deadline {
        h.advance(TICK_MS);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(h.logged("wait_url_allow"), "{:?}", h.logs());
    assert!(other.requests().is_empty());
}

#[test]
fn the_room_music_plays_while_the_wait_url_is_fetched() {
    let dir = scratch_dir("waiturlslow");
    let a_wav = tone_wav_bytes(&dir, "a.wav", A);
    let server = Server::start(move |path| match path {
        "/slow.wav" => Behaviour::SlowServe(Duration::from_millis(1_500), a_wav.clone()),
        _ => Behaviour::NotFound,
    });
    let h = wait_harness(dir, server.port);
    let started = Instant::now();
    h.join("a", &format!("{{waitUrl={}}}r", server.url("/slow.wav")))
        .unwrap();
    // Half a second of media while the server takes 1.5 s to answer.
    h.advance(500);
    assert!(
        started.elapsed() < Duration::from_millis(1_200),
        "the join and the ticks did not wait for the fetch"
    );
    assert!(
        h.hears("a", MOH, 400) > AUDIBLE / 2.0,
        "room music meanwhile"
    );
    assert!(h.hears("a", A, 400) < SILENT);
    assert!(advance_until_heard(&h, "a", A), "then the fetched clip");
}
