//! Photos taken on the job (T4 now, work orders next): a guard's photo of what they found at a
//! checkpoint. Kept as files under the data directory, one folder per community, named by the
//! SHA-256 of their bytes (the same photo twice is one file). Only JPEG, PNG and WebP of at most
//! [`MAX_PHOTO_BYTES`] are taken — recognised by their bytes, not by what the phone claims — and a
//! photo is served only under its own community's address, so the access rules that guard the
//! community guard its photos: nobody of another community or company reaches one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use hutong_core::ids::is_photo_id;

use crate::app::App;
use crate::error::ApiError;

/// The largest photo taken (a phone's full-size JPEG is 2–5 MiB).
pub const MAX_PHOTO_BYTES: usize = 6 * 1024 * 1024;

/// What a photo is, by its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhotoKind {
    Jpeg,
    Png,
    Webp,
}

impl PhotoKind {
    pub fn of(bytes: &[u8]) -> Option<PhotoKind> {
        match bytes {
            [0xFF, 0xD8, 0xFF, ..] => Some(PhotoKind::Jpeg),
            [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(PhotoKind::Png),
            [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some(PhotoKind::Webp),
            _ => None,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            PhotoKind::Jpeg => "jpg",
            PhotoKind::Png => "png",
            PhotoKind::Webp => "webp",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            PhotoKind::Jpeg => "image/jpeg",
            PhotoKind::Png => "image/png",
            PhotoKind::Webp => "image/webp",
        }
    }

    const ALL: [PhotoKind; 3] = [PhotoKind::Jpeg, PhotoKind::Png, PhotoKind::Webp];
}

/// Where photos live: `{data}/photos/{community}/{id}.{ext}`.
pub struct PhotoStore {
    root: PathBuf,
}

impl PhotoStore {
    pub fn new(data: &Path) -> PhotoStore {
        PhotoStore { root: data.join("photos") }
    }

    fn path(&self, community: &str, id: &str, kind: PhotoKind) -> PathBuf {
        self.root.join(community).join(format!("{id}.{}", kind.extension()))
    }

    /// Keeps a photo (written aside and renamed, so a half-written file is never served); its id.
    pub async fn keep(&self, community: &str, bytes: &[u8]) -> Result<(String, PhotoKind), ApiError> {
        let kind = PhotoKind::of(bytes).ok_or_else(not_a_photo)?;
        let id: String = Sha256::digest(bytes)[..16].iter().map(|b| format!("{b:02x}")).collect();
        let path = self.path(community, &id, kind);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok((id, kind));
        }
        let folder = self.root.join(community);
        tokio::fs::create_dir_all(&folder).await.map_err(crate::error::internal)?;
        let aside = folder.join(format!(".{id}.{}.part", std::process::id()));
        tokio::fs::write(&aside, bytes).await.map_err(crate::error::internal)?;
        tokio::fs::rename(&aside, &path).await.map_err(crate::error::internal)?;
        Ok((id, kind))
    }

    /// A photo of this community, if there is one by that id.
    pub async fn find(&self, community: &str, id: &str) -> Option<(PathBuf, PhotoKind)> {
        if !is_photo_id(id) {
            return None;
        }
        for kind in PhotoKind::ALL {
            let path = self.path(community, id, kind);
            if tokio::fs::try_exists(&path).await.unwrap_or(false) {
                return Some((path, kind));
            }
        }
        None
    }
}

fn not_a_photo() -> ApiError {
    ApiError::BadRequest { zh: "只接受 JPEG、PNG 或 WebP 照片".into(), en: "only JPEG, PNG or WebP photos are taken".into() }
}

/// A photo kept.
#[derive(Serialize, ToSchema)]
pub struct PhotoKept {
    /// Name it in a check-in's `photos`.
    pub id: String,
    pub bytes: usize,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub content_type: &'static str,
}

/// Takes a photo (the image's own bytes as the body).
pub async fn upload(State(app): State<Arc<App>>, UrlPath(community): UrlPath<String>, body: Body) -> Result<axum::Json<PhotoKept>, ApiError> {
    app.community(&community)?;
    let bytes = axum::body::to_bytes(body, MAX_PHOTO_BYTES).await.map_err(|_| {
        app.metrics.inc("hutong_photos_refused_total", &[("reason", "too_large")]);
        ApiError::TooLarge { zh: format!("照片过大（上限 {} MiB）", MAX_PHOTO_BYTES >> 20), en: format!("the photo is too large ({} MiB at most)", MAX_PHOTO_BYTES >> 20) }
    })?;
    let kept = app.photos.keep(&community, &bytes).await;
    let (id, kind) = kept.inspect_err(|_| app.metrics.inc("hutong_photos_refused_total", &[("reason", "not_a_photo")]))?;
    app.metrics.inc("hutong_photos_kept_total", &[]);
    Ok(axum::Json(PhotoKept { id, bytes: bytes.len(), content_type: kind.content_type() }))
}

/// A photo of the community, as it was taken.
pub async fn photo(State(app): State<Arc<App>>, UrlPath((community, id)): UrlPath<(String, String)>) -> Result<Response, ApiError> {
    app.community(&community)?;
    let (path, kind) = app.photos.find(&community, &id).await.ok_or_else(|| ApiError::not_found("照片", "photo", &id))?;
    let bytes = tokio::fs::read(&path).await.map_err(crate::error::internal)?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind.content_type()));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400, immutable"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_are_known_by_their_bytes_not_their_names() {
        assert_eq!(PhotoKind::of(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Some(PhotoKind::Jpeg));
        assert_eq!(PhotoKind::of(b"\x89PNG\r\n\x1a\n...."), Some(PhotoKind::Png));
        assert_eq!(PhotoKind::of(b"RIFF\x10\0\0\0WEBPVP8 "), Some(PhotoKind::Webp));
        assert_eq!(PhotoKind::of(b"<svg onload=alert(1)>"), None);
        assert_eq!(PhotoKind::of(b"GIF89a"), None);
        assert_eq!(PhotoKind::of(b""), None);
        assert!(is_photo_id("0123456789abcdef0123456789abcdef"));
        assert!(!is_photo_id("../../../../etc/passwd00000000000"));
        assert!(!is_photo_id("0123456789ABCDEF0123456789ABCDEF"));
    }
}
