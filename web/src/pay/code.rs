//! Collection QR codes (P8, the seed's 收款码): one per community, printed or saved as an image;
//! scanned, it opens the owner portal.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::app::App;
use crate::error::{ApiError, internal};

/// A QR code as SVG: one square per dark module, a quiet zone of four.
pub fn qr_svg(text: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).map_err(|e| internal(e.to_string()))?;
    let width = code.width();
    let squares: String = code
        .to_colors()
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == qrcode::Color::Dark)
        .map(|(n, _)| format!("M{} {}h1v1h-1z", n % width + 4, n / width + 4))
        .collect();
    let side = width + 8;
    Ok(format!("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" shape-rendering=\"crispEdges\"><rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/><path d=\"{squares}\" fill=\"#000\"/></svg>"))
}

/// Where the community's collection code leads: the owner portal, on this server.
pub(crate) fn portal_url(app: &App, headers: &HeaderMap, community: &str) -> String {
    let base = app.public_url.clone().unwrap_or_else(|| {
        let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        format!("{}://{host}", if app.https { "https" } else { "http" })
    });
    format!("{base}/owner?community={community}")
}

#[derive(Deserialize)]
pub struct CodeFormat {
    /// `svg` for the image alone (to save or put on a notice); the printable page otherwise.
    #[serde(default)]
    pub format: String,
}

/// `GET …/collection-code` (P8, the seed's 收款码): the community's QR code for owners — a
/// printable page (微信扫一扫缴纳费用) or, with `?format=svg`, the image alone. Scanned, it opens the
/// owner portal: a registered owner signs in and sees their bills; anyone else is led to register.
pub async fn collection_code(State(app): State<Arc<App>>, Path(community): Path<String>, headers: HeaderMap, Query(f): Query<CodeFormat>) -> Result<Response, ApiError> {
    let c = app.community(&community)?;
    let url = portal_url(&app, &headers, &community);
    let svg = qr_svg(&url)?;
    if f.format == "svg" {
        return Ok(([(axum::http::header::CONTENT_TYPE, "image/svg+xml")], svg).into_response());
    }
    let name = c.name.replace('<', "&lt;");
    Ok(Html(format!(
        "<!doctype html><html lang=zh><meta charset=utf-8><title>{name} 收款码</title>\
         <body style=\"font-family:sans-serif;text-align:center;padding:2rem\"><h1>{name}</h1><h2>微信扫一扫缴纳费用</h2>\
         <div data-test=collection-code style=\"width:18rem;margin:auto\">{svg}</div><p>{url}</p>\
         <p><a href=\"?format=svg\" download=\"{community}-collection-code.svg\">保存为图片</a> · <a href=\"javascript:print()\">打印</a></p></body></html>"
    ))
    .into_response())
}
