//! The HTTP API and the page: every request is checked, and a bad one gets a 4xx with a JSON
//! `{"error": "…"}` while the server carries on.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::json;

use crate::config::Config;
use crate::error::ApiError;
use crate::session::{Session, Sessions};
use crate::trainer::Cmd;

/// The server's shared state.
pub struct App {
    /// The sessions.
    pub sessions: Sessions,
    /// The token every request must carry (`?token=` or the `x-token` header), when set.
    pub token: Option<String>,
}

const INDEX: &str = include_str!("../page/index.html");
const SCRIPT: &str = include_str!("../page/app.js");
const STYLE: &str = include_str!("../page/style.css");

/// The routes.
pub fn router(app: Arc<App>) -> Router {
    let limit = app.sessions.limits.max_upload;
    Router::new()
        .route(
            "/",
            get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX) }),
        )
        .route(
            "/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    SCRIPT,
                )
            }),
        )
        .route(
            "/style.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }),
        )
        .route("/api/sessions", post(open))
        .route(
            "/api/sessions/{id}",
            axum::routing::put(reconfigure).delete(close),
        )
        .route("/api/sessions/{id}/control", post(control))
        .route("/api/sessions/{id}/frames", get(frames))
        .route("/api/sessions/{id}/walk", get(walk))
        .route("/api/sessions/{id}/csv", post(upload))
        .route("/api/sessions/{id}/model", get(model))
        .fallback(|| async { ApiError::not_found("no such page or API".into()) })
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(app.clone(), check_token))
        .with_state(app)
}

async fn check_token(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if let Some(token) = &app.token {
        let in_query = req
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .any(|kv| kv == format!("token={token}"));
        let in_header = req
            .headers()
            .get("x-token")
            .is_some_and(|v| v.as_bytes() == token.as_bytes());
        if !in_query && !in_header {
            return ApiError::with(
                StatusCode::FORBIDDEN,
                "a token is required: open the URL the server printed, with its ?token=…".into(),
            )
            .into_response();
        }
    }
    next.run(req).await
}

fn body<T>(r: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    r.map(|Json(v)| v).map_err(|e| {
        ApiError::bad(format!(
            "the request body is not a valid set-up: {}",
            e.body_text()
        ))
    })
}

async fn open(
    State(app): State<Arc<App>>,
    cfg: Result<Json<Config>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let cfg = body(cfg)?;
    let (id, info) = blocking(move || app.sessions.open(cfg)).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "info": info }))))
}

async fn reconfigure(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    cfg: Result<Json<Config>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let s = app.sessions.get(&id)?;
    let cfg = body(cfg)?;
    Ok(Json(blocking(move || s.reconfigure(cfg)).await?))
}

async fn close(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.sessions.close(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Control {
    action: String,
    #[serde(default)]
    value: Option<f64>,
}

async fn control(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    c: Result<Json<Control>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let s = app.sessions.get(&id)?;
    let c = c.map(|Json(c)| c).map_err(|e| {
        ApiError::bad(format!(
            "the request body is not a valid control: {}",
            e.body_text()
        ))
    })?;
    let cmd = match c.action.as_str() {
        "play" => Cmd::Play,
        "pause" => Cmd::Pause,
        "step" => Cmd::Step,
        "speed" => match c.value {
            Some(v) if (0.0..=1e6).contains(&v) => Cmd::Speed(v as u32),
            v => return Err(ApiError::bad(format!("speed: value {v:?} must be steps per second in 0..=1000000 (0: as fast as possible)"))),
        },
        a => return Err(ApiError::bad(format!("action: unknown '{a}'; 'play', 'pause', 'step' or 'speed'"))),
    };
    s.send(cmd)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FramesQuery {
    fps: Option<f64>,
    #[serde(rename = "token")]
    _token: Option<String>,
}

/// Counts an open frame stream for as long as it lives.
struct Open(Arc<Session>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn frames(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    q: Result<Query<FramesQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let s = app.sessions.get(&id)?;
    let Query(q) = q.map_err(|e| ApiError::bad(e.body_text()))?;
    let fps = q.fps.unwrap_or(30.0);
    if !(1.0..=60.0).contains(&fps) {
        return Err(ApiError::bad(format!("fps: {fps} is outside 1..=60")));
    }
    let period = Duration::from_secs_f64(1.0 / fps);
    s.streams.fetch_add(1, Ordering::Relaxed);
    let rx = s.frames.subscribe();
    let open = Open(s);
    let stream =
        futures_util::stream::unfold((rx, open, true), move |(mut rx, open, first)| async move {
            if !first {
                tokio::time::sleep(period).await;
                next_frame(&mut rx, &open.0).await?;
            }
            let data = rx.borrow_and_update().clone();
            Some((Ok(Event::default().data(&*data)), (rx, open, false)))
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Waits for a newer frame; `None` once the session is closed.
async fn next_frame(rx: &mut tokio::sync::watch::Receiver<Arc<str>>, s: &Session) -> Option<()> {
    loop {
        match tokio::time::timeout(Duration::from_secs(1), rx.changed()).await {
            Ok(r) => return r.ok(),
            Err(_) if s.closed.load(Ordering::Relaxed) => return None,
            Err(_) => {}
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WalkQuery {
    row: usize,
    #[serde(rename = "token")]
    _token: Option<String>,
}

async fn walk(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    q: Result<Query<WalkQuery>, QueryRejection>,
) -> Result<Json<crate::walk::Walk>, ApiError> {
    let s = app.sessions.get(&id)?;
    let Query(q) = q.map_err(|e| {
        ApiError::bad(format!(
            "walk needs ?row=N, a training row: {}",
            e.body_text()
        ))
    })?;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    s.send(Cmd::Walk(q.row, tx))?;
    let w = blocking(move || {
        rx.recv_timeout(Duration::from_secs(20))
            .map_err(|_| busy())?
    })
    .await?;
    Ok(Json(w))
}

async fn upload(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let s = app.sessions.get(&id)?;
    let max = app.sessions.limits.max_upload;
    let bytes = bytes.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::with(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the CSV is larger than the limit of {} KiB", max / 1024),
        ),
        _ => ApiError::bad(e.body_text()),
    })?;
    if std::str::from_utf8(&bytes).is_err() || bytes.contains(&0) {
        return Err(ApiError::with(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the upload is not a CSV: it is not UTF-8 text".into(),
        ));
    }
    let table = neuron::data::csv::read_csv_bytes(bytes.to_vec(), "upload.csv")
        .map_err(|e| ApiError::bad(format!("the upload is not a readable CSV: {e}")))?;
    Ok(Json(blocking(move || s.upload(table)).await?))
}

async fn model(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let s = app.sessions.get(&id)?;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    s.send(Cmd::Params(tx))?;
    let bytes = blocking(move || {
        let m = rx
            .recv_timeout(Duration::from_secs(20))
            .map_err(|_| busy())??;
        crate::download::model_file(&m, &s)
    })
    .await?;
    let disposition = "attachment; filename=\"playground.safetensors\"";
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

fn busy() -> ApiError {
    ApiError::with(
        StatusCode::SERVICE_UNAVAILABLE,
        "the session's trainer did not answer in time".into(),
    )
}

/// Runs `f` off the async threads (it may wait for a trainer or encode data).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::with(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}
