//! Starting the real binary and talking to it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_kiroku");
pub const ADMIN_PASSWORD: &str = "Yoake-no-Kaze-2026!q";

/// Runs `kiroku ARGS` to completion.
pub fn kiroku(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir").arg(data_dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run kiroku")
}

/// A running `kiroku serve`, killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Server {
    /// Initialises `data_dir` with the administrator `admin` (password [`ADMIN_PASSWORD`]), then serves.
    pub fn init_and_start(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let pw_file = data_dir.with_extension("admin-pw");
        std::fs::write(&pw_file, ADMIN_PASSWORD).expect("write password file");
        let out = kiroku(data_dir, &["init", "--admin-user", "admin", "--admin-password-file", pw_file.to_str().expect("utf-8 path")], env);
        assert!(out.status.success(), "init failed: {}", String::from_utf8_lossy(&out.stderr));
        Server::start(data_dir, env)
    }

    /// Starts `kiroku serve` on a free loopback port and waits until it listens.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.arg("--data-dir").arg(data_dir).args(["serve", "--listen", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn kiroku serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("kiroku: listening on ") {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_string());
                }
            }
        });
        let base = rx.recv_timeout(Duration::from_secs(30)).expect("kiroku serve did not start listening");
        Server { child, base, data_dir: data_dir.to_path_buf(), env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM: a graceful shutdown (requests finish, the final checkpoint is signed).
    pub fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }

    /// Kills and starts again on the same data directory.
    pub fn restart(&mut self) {
        self.kill();
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        *self = Server::start(&self.data_dir.clone(), &env);
    }

    pub fn client(&self) -> Client {
        Client { base: self.base.clone(), http: reqwest::Client::new(), token: None }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An API client with an optional bearer token.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
}

/// A response: status, headers and the JSON body (Null when not JSON).
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn expect(self, status: u16, what: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "{what}: {}", self.body);
        self.body
    }

    pub fn problem_type(&self) -> &str {
        self.body["type"].as_str().unwrap_or("")
    }
}

impl Client {
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Resp {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    /// Logs in; returns the response body.
    pub async fn login(&mut self, username: &str, password: &str) -> Resp {
        let r = self.post("/api/v1/auth/login", json!({ "username": username, "password": password })).await;
        self.token = r.body["token"].as_str().map(str::to_string);
        r
    }

    /// Logs in with an initial password and replaces it, as every new account must.
    pub async fn login_and_change(&mut self, username: &str, initial: &str) -> String {
        let r = self.login(username, initial).await;
        assert_eq!(r.status, 200, "login {username}: {}", r.body);
        assert_eq!(r.body["must_change_password"], json!(true));
        let new_password = format!("Hoshi-Kumo-{}!7q", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let r = self.post("/api/v1/auth/password", json!({ "current_password": initial, "new_password": new_password })).await;
        assert_eq!(r.status, 200, "password change for {username}: {}", r.body);
        new_password
    }
}

/// Completes the forced password change of an administrator who has logged in with the initial password.
pub async fn admin_after_login(mut c: Client) -> Client {
    c.token = None;
    c.login_and_change("admin", ADMIN_PASSWORD).await;
    c
}

/// An administrator client on a fresh server, with its password changed.
pub async fn admin(server: &Server) -> Client {
    let mut c = server.client();
    c.login_and_change("admin", ADMIN_PASSWORD).await;
    c
}

/// Creates an account and returns a logged-in client for it (initial password changed).
pub async fn user(server: &Server, admin: &Client, username: &str, role: &str) -> Client {
    account(server, admin, username, &format!("{username} 様"), role).await.0
}

/// Creates an account, logs in and replaces the initial password; answers the client and the
/// password now in force (for logging in again, e.g. through the web form).
pub async fn account(server: &Server, admin: &Client, username: &str, display_name: &str, role: &str) -> (Client, String) {
    let r = admin.post("/api/v1/users", json!({ "username": username, "display_name": display_name, "role": role })).await;
    let body = r.expect(201, "create user");
    let initial = body["initial_password"].as_str().expect("generated password").to_string();
    let mut c = server.client();
    let password = c.login_and_change(username, &initial).await;
    (c, password)
}

pub async fn create_patient(c: &Client, patient_id: &str) -> Value {
    c.post(
        "/api/v1/patients",
        json!({ "patient_id": patient_id, "name": "山田 太郎", "name_kana": "ヤマダ タロウ", "birth_date": "1970-04-01", "sex": "male" }),
    )
    .await
    .expect(201, "create patient")
}

pub fn note(text: &str) -> Value {
    json!({ "type": "progress_note", "title": "経過記録", "body": { "text": text } })
}

/// A fresh temp directory that lives for the test.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// A fresh PostgreSQL database of its own for the binary (`KIROKU_DATABASE_URL`), or None when
/// the peer is absent (kiroku-testkit says so loudly, and fails under CI).
pub async fn postgres_database() -> Option<String> {
    let url = kiroku_testkit::pg_url()?;
    let db = format!("kiroku_e2e_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&url).await.expect("connect postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}"))).execute(&admin).await.expect("create database");
    match url.rsplit_once('/') {
        Some((prefix, _)) => Some(format!("{prefix}/{db}")),
        None => panic!("unexpected KIROKU_TEST_PG_URL {url}"),
    }
}
