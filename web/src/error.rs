//! The one error type of the HTTP API. Every refusal a caller can act on is a variant with its
//! status and its message in Chinese and English; anything else is `Internal`, logged in full and
//! answered opaquely. Domain errors of `core` and `actors` convert here, so a handler writes `?`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hutong_actors::handle::CallError;
use hutong_actors::journaled::CommitError;
use hutong_core::Bilingual;
use hutong_core::api::ImportReport;
use hutong_core::book::BookError;
use hutong_core::fee::TariffError;
use hutong_core::identity::{OrgError, Permission};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::identity::LoginError;

/// A refusal the caller can act on, or an internal failure they cannot.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{zh} / {en}")]
    NotFound { zh: String, en: String },
    #[error("{zh} / {en}")]
    BadRequest { zh: String, en: String },
    /// The request contradicts what is already there (a taken account, a reused key).
    #[error("{zh} / {en}")]
    Conflict { zh: String, en: String },
    #[error("服务尚未就绪 / the server is still recovering")]
    NotReady,
    /// Part of the server (a building) is not answering right now; the request changed nothing
    /// it can tell of, and may be retried.
    #[error("{zh} / {en}")]
    Unavailable { zh: String, en: String },
    #[error("请先登录 / sign in first")]
    Unauthenticated,
    #[error("没有权限（需要 {0}）/ not allowed: needs {0}")]
    Forbidden(Permission),
    #[error("业主账号不能访问员工功能 / owners cannot use staff functions")]
    NotStaff,
    /// Too many attempts; the message says when to try again.
    #[error("{zh} / {en}")]
    RateLimited { zh: String, en: String },
    /// A sign-in that did not succeed (wrong password or code); says nothing more.
    #[error("{zh} / {en}")]
    SignInFailed { zh: String, en: String },
    /// Granting or managing more than the caller holds (A1).
    #[error("{zh} / {en}")]
    Beyond { zh: String, en: String },
    /// A request body over the limit (an upload past 10 MiB).
    #[error("{zh} / {en}")]
    TooLarge { zh: String, en: String },
    /// A file whose rows break the rules: nothing was imported; the report names every bad row.
    #[error("{}", .0.message)]
    Unprocessable(Box<ImportReport>),
    /// A browser's WebSocket from another site.
    #[error("来源不符 / cross-origin WebSocket refused")]
    CrossOrigin,
    #[error("内部错误 / internal error")]
    Internal(String),
}

impl ApiError {
    pub fn bad(zh: &str, en: &str) -> Self {
        ApiError::BadRequest { zh: zh.to_string(), en: en.to_string() }
    }

    /// A request body that is not the expected JSON — including fields it may not set.
    pub fn body(e: JsonRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::TooLarge { zh: "请求内容过大".into(), en: "the request body is too large".into() };
        }
        ApiError::BadRequest { zh: "请求内容无效或含有不允许的字段".into(), en: format!("invalid request body: {}", e.body_text()) }
    }

    /// A domain refusal's two sentences, each written once in its own language (`core::Bilingual`).
    pub fn bilingual(e: &impl Bilingual) -> (String, String) {
        (e.zh(), e.en())
    }

    pub fn not_found(what_zh: &str, what_en: &str, id: &str) -> Self {
        ApiError::NotFound { zh: format!("找不到{what_zh} {id}"), en: format!("no {what_en} {id}") }
    }
}

/// A failure of ours (the journal, a task), logged with its detail; the caller hears "internal".
pub fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// Every error body: `{"error": {"code": "...", "message": "中文 / English"}}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorReply {
    pub error: ErrorBody,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// not_found, bad_request, conflict, not_ready, unavailable, unauthenticated, sign_in_failed,
    /// rate_limited, forbidden, too_large, cross_origin or internal (422 answers the import report).
    pub code: String,
    /// The reason, in Chinese and English.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
            ApiError::NotReady => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            ApiError::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            // The import report is the body: the screens show its rows.
            ApiError::Unprocessable(report) => return (StatusCode::UNPROCESSABLE_ENTITY, Json(report)).into_response(),
            ApiError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::CrossOrigin => (StatusCode::FORBIDDEN, "cross_origin"),
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::SignInFailed { .. } => (StatusCode::UNAUTHORIZED, "sign_in_failed"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Forbidden(_) | ApiError::NotStaff | ApiError::Beyond { .. } => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        (status, Json(ErrorReply { error: ErrorBody { code: code.to_string(), message: self.to_string() } })).into_response()
    }
}

impl From<OrgError> for ApiError {
    fn from(e: OrgError) -> Self {
        use hutong_core::identity::OrgError::*;
        let (zh, en) = ApiError::bilingual(&e);
        match e {
            NoStaff(_) | NoCompany(_) => ApiError::NotFound { zh, en },
            AccountTaken | CommunityTaken(_) | CompanyExists(_) => ApiError::Conflict { zh, en },
            NotOurCommunity(_) | ShortPassword | NoRole(_) | BadRoleId | BadName | RegionElsewhere(_) | PlatformPermission => ApiError::BadRequest { zh, en },
            NoBranch(_) | NoRequest(_) => ApiError::NotFound { zh, en },
            RequestDecided(_) | TooManyRequests | OwnerElsewhere => ApiError::Conflict { zh, en },
            BeyondOwn => ApiError::Beyond { zh, en },
        }
    }
}

impl<R: Into<ApiError>> From<CommitError<R>> for ApiError {
    fn from(e: CommitError<R>) -> Self {
        match e {
            CommitError::Refused(r) => r.into(),
            CommitError::Journal(hutong_actors::journal::JournalError::Quarantined { stream, seq }) => ApiError::Unavailable {
                zh: format!("数据流 {stream} 第 {seq} 条记录无法应用，已隔离，等待运维处理"),
                en: format!("stream {stream} is quarantined at record {seq} until an operator deals with it"),
            },
            CommitError::Journal(j) => ApiError::Internal(j.to_string()),
        }
    }
}

/// A book refusal, in the book's own words: a missing bill or house is 404, a request that
/// contradicts the book as it is (a closed bill, a reused key, a batch over a paid bill) is 409.
impl From<BookError> for ApiError {
    fn from(e: BookError) -> Self {
        use hutong_core::bill::BillError;
        let (zh, en) = ApiError::bilingual(&e);
        match e {
            BookError::NoBill(_) | BookError::NoHouse(_) | BookError::NoResident(_) => ApiError::NotFound { zh, en },
            BookError::KeyReused(_)
            | BookError::NotAllPending { .. }
            | BookError::BatchAbandoned
            | BookError::ReferenceUsed(_)
            | BookError::NothingOwed
            | BookError::ResidentTwice(_)
            | BookError::Bill(BillError::Closed(_) | BillError::NotPending(..)) => ApiError::Conflict { zh, en },
            _ => ApiError::BadRequest { zh, en },
        }
    }
}

impl From<hutong_core::device_keys::KeyError> for ApiError {
    fn from(e: hutong_core::device_keys::KeyError) -> Self {
        let (zh, en) = ApiError::bilingual(&e);
        ApiError::Conflict { zh, en }
    }
}

impl From<TariffError> for ApiError {
    fn from(e: TariffError) -> Self {
        let (zh, en) = ApiError::bilingual(&e);
        ApiError::BadRequest { zh, en }
    }
}

/// A registry refusal: what it names does not exist (404) or the request contradicts it (409),
/// else the request itself is wrong (400).
impl From<hutong_core::registry::RegistryError> for ApiError {
    fn from(e: hutong_core::registry::RegistryError) -> Self {
        use hutong_core::registry::RegistryError::*;
        let (zh, en) = ApiError::bilingual(&e);
        match e {
            NoCommunity(_) | NoDevice(_) => ApiError::NotFound { zh, en },
            DeviceIdTaken(_) => ApiError::Conflict { zh, en },
            Rules(_) | BadDeviceId | NoBuilding(_) | NoHouse(_) | HouseElsewhere(_) | BadHeartbeat | ReasonTooLong | Plan(_) => ApiError::BadRequest { zh, en },
        }
    }
}

/// A building that does not answer: 503, the request may be retried.
impl From<CallError> for ApiError {
    fn from(e: CallError) -> Self {
        let (zh, en) = ApiError::bilingual(&e);
        ApiError::Unavailable { zh, en }
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        let (zh, en) = ApiError::bilingual(&e);
        match e {
            LoginError::Locked(_) => ApiError::RateLimited { zh, en },
            LoginError::Journal(j) => ApiError::Internal(j.to_string()),
            LoginError::BadCredentials | LoginError::BadCode => ApiError::SignInFailed { zh, en },
        }
    }
}

/// An uploaded file, not yet read: a handler reads it (`read`) once it knows it will take it — an
/// import waiting for its community's slot reads nothing. Past the route's limit, 413 with a sentence.
pub struct Upload(Request);

impl<S: Send + Sync> FromRequest<S> for Upload {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, ApiError> {
        Ok(Upload(request))
    }
}

impl Upload {
    pub async fn read(self) -> Result<axum::body::Bytes, ApiError> {
        axum::body::Bytes::from_request(self.0, &()).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge { zh: "文件过大（上限 10 MiB）".into(), en: "the file is too large (10 MiB at most)".into() }
            } else {
                ApiError::BadRequest { zh: "无法读取上传的文件".into(), en: format!("the upload could not be read: {}", e.body_text()) }
            }
        })
    }
}

/// A JSON body, refused with `ApiError` (400 and a sentence) when it is not the expected shape —
/// including fields it may not set (`deny_unknown_fields`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(request, state).await.map(|Json(v)| ApiJson(v)).map_err(ApiError::body)
    }
}
