//! CarePlan: read, search (with `_include=CarePlan:goal`) and `$everything`.
