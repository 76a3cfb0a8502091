//! Reading script and command replies into Rust values. A reply of an unexpected shape is
//! [`StoreError::Corrupt`], naming what was being read.

use std::collections::HashMap;

use redis::Value;

use crate::store::{StoreError, StoreResult};

/// Returns a [`StoreError::Corrupt`] that names what was being read.
pub fn corrupt(what: &str, value: &Value) -> StoreError {
    StoreError::Corrupt(format!("unexpected {what} in a Redis reply: {value:?}"))
}

/// Reads an array reply.
pub fn array(value: Value, what: &str) -> StoreResult<Vec<Value>> {
    match value {
        Value::Array(items) | Value::Set(items) => Ok(items),
        other => Err(corrupt(what, &other)),
    }
}

/// Reads a string reply.
pub fn text(value: &Value, what: &str) -> StoreResult<String> {
    match value {
        Value::BulkString(bytes) => {
            String::from_utf8(bytes.clone()).map_err(|_| corrupt(what, value))
        }
        Value::SimpleString(text) => Ok(text.clone()),
        other => Err(corrupt(what, other)),
    }
}

/// Reads a string reply without copying it.
pub fn as_str<'a>(value: &'a Value, what: &str) -> StoreResult<&'a str> {
    match value {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).map_err(|_| corrupt(what, value)),
        Value::SimpleString(text) => Ok(text),
        other => Err(corrupt(what, other)),
    }
}

/// Reads a string reply, taking its bytes rather than copying them.
pub fn into_text(value: Value, what: &str) -> StoreResult<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes)
            .map_err(|error| corrupt(what, &Value::BulkString(error.into_bytes()))),
        Value::SimpleString(text) => Ok(text),
        other => Err(corrupt(what, &other)),
    }
}

/// Reads a string reply, or `None` for nil.
pub fn optional_text(value: &Value, what: &str) -> StoreResult<Option<String>> {
    match value {
        Value::Nil => Ok(None),
        other => text(other, what).map(Some),
    }
}

/// Reads an integer reply, or a string that contains one.
pub fn integer(value: &Value, what: &str) -> StoreResult<i64> {
    match value {
        Value::Int(number) => Ok(*number),
        Value::BulkString(_) | Value::SimpleString(_) => {
            text(value, what)?.parse().map_err(|_| corrupt(what, value))
        }
        other => Err(corrupt(what, other)),
    }
}

/// Reads a non-negative integer reply.
pub fn count(value: &Value, what: &str) -> StoreResult<u64> {
    u64::try_from(integer(value, what)?).map_err(|_| corrupt(what, value))
}

/// Reads a 0 or 1 reply.
pub fn flag(value: &Value, what: &str) -> StoreResult<bool> {
    match integer(value, what)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(corrupt(what, value)),
    }
}

/// Reads a flat list of field, value pairs, as HGETALL returns with RESP2 (or a map with RESP3).
pub fn fields(value: Value, what: &str) -> StoreResult<HashMap<String, String>> {
    if let Value::Map(pairs) = value {
        return pairs
            .iter()
            .map(|(field, value)| Ok((text(field, what)?, text(value, what)?)))
            .collect();
    }
    fields_of(&array(value, what)?, what)
}

/// Reads field, value pairs from a slice of an array reply.
pub fn fields_of(items: &[Value], what: &str) -> StoreResult<HashMap<String, String>> {
    if !items.len().is_multiple_of(2) {
        return Err(StoreError::Corrupt(format!(
            "{what} has an odd number of field, value items: {}",
            items.len()
        )));
    }
    items
        .chunks_exact(2)
        .map(|pair| Ok((text(&pair[0], what)?, text(&pair[1], what)?)))
        .collect()
}

/// Reads an array reply whose first item is a status word, returning the word and the rest.
pub fn status_and_rest(value: Value, what: &str) -> StoreResult<(String, Vec<Value>)> {
    let mut items = array(value, what)?;
    if items.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "{what} returned an empty reply"
        )));
    }
    let rest = items.split_off(1);
    Ok((text(&items[0], what)?, rest))
}
