//! Schema helpers for `#[schema(schema_with = …)]` on request fields whose value the
//! service checks against a fixed list: the list comes from the same constant the
//! service uses. Imports nothing of the API, so the DTOs and the document can share it.

use utoipa::openapi::RefOr;

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};

/// An organisation code as `admin::is_code` accepts it.
pub const CODE_PATTERN: &str = "^[a-z0-9_-]{1,64}$";

/// A string that is one of `values`.
pub fn string_enum(values: &[&str]) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
        .into()
}

/// A non-empty array of strings, each one of `values`.
pub fn string_enum_array(values: &[&str]) -> Schema {
    ArrayBuilder::new()
        .items(RefOr::T(string_enum(values)))
        .min_items(Some(1))
        .build()
        .into()
}

/// An array of organisation codes.
pub fn code_array() -> Schema {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(CODE_PATTERN)),
        )
        .build()
        .into()
}
