//! CarePlan reads, searches and `$everything`, with the JSON API's access rules and audit events.
