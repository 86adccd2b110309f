//! A real RFC 8030 push service on loopback, for the Web Push tests: an
//! HTTP server that checks every request as a browser vendor's service
//! would — the VAPID JWT (ES256 with the advertised key, `aud` = this
//! origin, `exp` in the future and at most 24 h ahead, `sub`) and the
//! `aes128gcm` body, decrypted with the `ece` crate (OpenSSL), not with the
//! code the server encrypts with. Each subscription is a path with its own
//! browser keys; a test scripts the answers (201 by default, any status,
//! with `Retry-After`, or no answer at all).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// What the service answers to the next request on a path.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    Status(u16),
    /// A status with `Retry-After: N` seconds.
    RetryAfter(u16, u64),
    /// Never answers (the connection stays open).
    Hang,
}

/// A request that passed every check, decrypted.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub payload: Value,
    pub ttl: String,
    pub urgency: String,
    pub topic: String,
    pub answered: u16,
}

struct Browser {
    keys: ece::EcKeyComponents,
    auth: [u8; 16],
}

#[derive(Default)]
struct State {
    browsers: HashMap<String, Browser>,
    script: HashMap<String, VecDeque<Reply>>,
    received: Vec<Received>,
    /// Requests refused by a check, with why: a test fails on any.
    violations: Vec<String>,
    attempts: HashMap<String, usize>,
}

#[derive(Clone)]
pub struct PushService {
    pub origin: String,
    /// The VAPID public key every request must be signed with.
    vapid_public_key: Arc<Mutex<Option<String>>>,
    state: Arc<Mutex<State>>,
}

impl PushService {
    /// Starts the service on a free loopback port.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let vapid_public_key = Arc::new(Mutex::new(None));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let service = Self {
            origin: origin.clone(),
            vapid_public_key,
            state,
        };
        let shared = service.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(shared.clone()))
                .app_data(web::PayloadConfig::new(1 << 20))
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        service
    }

    /// Requests must be signed with this key (the server's advertised one).
    pub fn expect_vapid_key(&self, public_key: &str) {
        *self.vapid_public_key.lock().unwrap() = Some(public_key.to_owned());
    }

    /// A new browser subscription on this service: what
    /// `PushSubscription.toJSON()` would return.
    pub fn subscription(&self, name: &str) -> Value {
        let (pair, auth) = ece::generate_keypair_and_auth_secret().unwrap();
        let public = pair.pub_as_raw().unwrap();
        let path = format!("/push/{name}");
        self.state.lock().unwrap().browsers.insert(
            path.clone(),
            Browser {
                keys: pair.raw_components().unwrap(),
                auth,
            },
        );
        json!({
            "endpoint": format!("{}{path}", self.origin),
            "expirationTime": null,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(public),
                "auth": URL_SAFE_NO_PAD.encode(auth),
            }
        })
    }

    /// The next answers on a subscription's path, in order (then 201).
    pub fn script(&self, name: &str, replies: &[Reply]) {
        self.state
            .lock()
            .unwrap()
            .script
            .insert(format!("/push/{name}"), replies.iter().copied().collect());
    }

    /// Everything received for a subscription, decrypted and checked.
    pub fn received(&self, name: &str) -> Vec<Received> {
        let path = format!("/push/{name}");
        self.state
            .lock()
            .unwrap()
            .received
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Messages delivered (answered 2xx) to a subscription.
    pub fn delivered(&self, name: &str) -> Vec<Received> {
        self.received(name)
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .collect()
    }

    /// Requests that reached the path, whatever they were answered.
    pub fn attempts(&self, name: &str) -> usize {
        let path = format!("/push/{name}");
        *self.state.lock().unwrap().attempts.get(&path).unwrap_or(&0)
    }

    /// Fails the test if any request broke a rule of RFC 8030/8291/8292.
    pub fn assert_no_violations(&self) {
        let v = &self.state.lock().unwrap().violations;
        assert!(v.is_empty(), "the push service refused requests: {v:?}");
    }

    /// Waits (bounded) until `name` has `n` delivered messages.
    pub async fn wait_delivered(&self, name: &str, n: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.delivered(name);
            if got.len() >= n || tokio::time::Instant::now() > deadline {
                self.assert_no_violations();
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Checks one request; `Err` says which rule it broke.
    fn check(&self, req: &HttpRequest, body: &[u8]) -> Result<Received, String> {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .ok_or(format!("no {name} header"))
        };
        let auth = header("authorization")?;
        let rest = auth.strip_prefix("vapid t=").ok_or("not a vapid scheme")?;
        let (token, key) = rest.split_once(", k=").ok_or("no k= parameter")?;
        let expected = self.vapid_public_key.lock().unwrap().clone();
        if expected.as_deref() != Some(key) {
            return Err(format!("k={key} is not the advertised key {expected:?}"));
        }
        let point = URL_SAFE_NO_PAD.decode(key).map_err(|e| e.to_string())?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&[&self.origin]);
        validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<Value>(
            token,
            &jsonwebtoken::DecodingKey::from_ec_der(&point),
            &validation,
        )
        .map_err(|e| format!("VAPID JWT: {e}"))?
        .claims;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let exp = claims["exp"].as_u64().ok_or("exp is not a number")?;
        if exp <= now || exp > now + 24 * 3600 {
            return Err(format!("exp {exp} is not within 24 h of now {now}"));
        }
        let sub = claims["sub"].as_str().unwrap_or("");
        if !(sub.starts_with("mailto:") || sub.starts_with("https:")) {
            return Err(format!("sub {sub:?} is not mailto: or https:"));
        }
        if header("content-encoding")? != "aes128gcm" {
            return Err("Content-Encoding is not aes128gcm".into());
        }
        let path = req.path().to_owned();
        let state = self.state.lock().unwrap();
        let browser = state.browsers.get(&path).ok_or("no such subscription")?;
        let plain = ece::decrypt(&browser.keys, &browser.auth, body)
            .map_err(|e| format!("cannot decrypt: {e}"))?;
        let payload: Value = serde_json::from_slice(&plain).map_err(|e| e.to_string())?;
        Ok(Received {
            path,
            payload,
            ttl: header("ttl")?,
            urgency: header("urgency")?,
            topic: header("topic")?,
            answered: 0,
        })
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, svc: web::Data<PushService>) -> HttpResponse {
    let path = req.path().to_owned();
    let reply = {
        let mut state = svc.state.lock().unwrap();
        *state.attempts.entry(path.clone()).or_default() += 1;
        state
            .script
            .get_mut(&path)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Reply::Status(201))
    };
    if let Reply::Hang = reply {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let (status, retry_after) = match reply {
        Reply::Status(s) => (s, None),
        Reply::RetryAfter(s, secs) => (s, Some(secs)),
        Reply::Hang => (504, None),
    };
    match svc.check(&req, &body) {
        Ok(mut received) => {
            received.answered = status;
            svc.state.lock().unwrap().received.push(received);
        }
        Err(why) => {
            svc.state.lock().unwrap().violations.push(why);
            return HttpResponse::BadRequest().finish();
        }
    }
    let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if let Some(secs) = retry_after {
        response.insert_header(("Retry-After", secs.to_string()));
    }
    response.finish()
}
