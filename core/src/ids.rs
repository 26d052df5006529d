//! Ids are newtypes so a house id is never passed where a device id belongs.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            pub fn new(id: impl AsRef<str>) -> Self {
                Self(Arc::from(id.as_ref()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        // Lets maps keyed by the id be searched with a plain `&str` taken from an MQTT topic.
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::new(s)
            }
        }

        // On the wire an id is its text.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::String).build().into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

id_type!(
    /// A community (小区 / project), e.g. `heyuan`; also the MQTT topic segment.
    CommunityId
);
id_type!(
    /// A building (幢/栋) within a community, e.g. `heyuan-b01`.
    BuildingId
);
id_type!(
    /// A house (室) or other resource, e.g. `heyuan-1-1-101`.
    HouseId
);
id_type!(
    /// A device (meter, gate, barrier), e.g. `wm-1-1-101`; also the MQTT topic segment.
    DeviceId
);

/// True when a text may be used as an id and as an MQTT topic segment: ASCII letters, digits, `-`, `_`.
pub fn is_valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A photo's id: the first 16 bytes of the SHA-256 of its bytes, in lowercase hex.
pub fn is_photo_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

id_type!(
    /// A patrol checkpoint (巡更点), e.g. `heyuan-cp-gate`.
    CheckpointId
);
id_type!(
    /// A patrol route (巡更路线), e.g. `heyuan-night`.
    RouteId
);

id_type!(
    /// A work order (工单), numbered per community: `wo-17`.
    WorkOrderId
);

id_type!(
    /// A property company (集团/公司); companies on one deployment never see each other (X5).
    CompanyId
);
id_type!(
    /// A staff member's account id.
    StaffId
);
id_type!(
    /// A role, built in (`cashier`) or defined by a company.
    RoleId
);
