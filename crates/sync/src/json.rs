//! Conversion between JSON values (how entities are serialised) and Automerge values.

use automerge::{ObjId, ObjType, Prop, ScalarValue, hydrate, transaction::Transactable};
use serde_json::Value;

/// Most levels of nesting written into a document; deeper input is refused, not recursed.
pub const MAX_DEPTH: usize = 16;

/// Writes `value` at `prop` of `obj`, creating maps and lists for objects and arrays.
pub fn put<T: Transactable>(
    tx: &mut T,
    obj: &ObjId,
    prop: Prop,
    value: &Value,
    depth: usize,
) -> Result<(), automerge::AutomergeError> {
    if depth > MAX_DEPTH {
        return Err(automerge::AutomergeError::InvalidOp(ObjType::Map));
    }
    match value {
        Value::Object(map) => {
            let child = tx.put_object(obj, prop, ObjType::Map)?;
            for (k, v) in map {
                put(tx, &child, Prop::Map(k.clone()), v, depth + 1)?;
            }
        }
        Value::Array(items) => {
            let child = tx.put_object(obj, prop, ObjType::List)?;
            for (i, v) in items.iter().enumerate() {
                insert(tx, &child, i, v, depth + 1)?;
            }
        }
        scalar => {
            tx.put(obj, prop, to_scalar(scalar))?;
        }
    }
    Ok(())
}

/// Inserts `value` at `index` of the list `obj`.
pub fn insert<T: Transactable>(
    tx: &mut T,
    obj: &ObjId,
    index: usize,
    value: &Value,
    depth: usize,
) -> Result<(), automerge::AutomergeError> {
    if depth > MAX_DEPTH {
        return Err(automerge::AutomergeError::InvalidOp(ObjType::List));
    }
    match value {
        Value::Object(map) => {
            let child = tx.insert_object(obj, index, ObjType::Map)?;
            for (k, v) in map {
                put(tx, &child, Prop::Map(k.clone()), v, depth + 1)?;
            }
        }
        Value::Array(items) => {
            let child = tx.insert_object(obj, index, ObjType::List)?;
            for (i, v) in items.iter().enumerate() {
                insert(tx, &child, i, v, depth + 1)?;
            }
        }
        scalar => tx.insert(obj, index, to_scalar(scalar))?,
    }
    Ok(())
}

fn to_scalar(v: &Value) -> ScalarValue {
    match v {
        Value::Null => ScalarValue::Null,
        Value::Bool(b) => ScalarValue::Boolean(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                ScalarValue::Int(i)
            } else if let Some(u) = n.as_u64() {
                ScalarValue::Uint(u)
            } else {
                ScalarValue::F64(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => ScalarValue::Str(s.as_str().into()),
        // Objects and arrays are handled by the callers.
        Value::Array(_) | Value::Object(_) => ScalarValue::Null,
    }
}

/// Converts a hydrated Automerge value to JSON.
pub fn from_hydrate(v: &hydrate::Value) -> Value {
    match v {
        hydrate::Value::Scalar(s) => from_scalar(s),
        hydrate::Value::Map(m) => Value::Object(
            m.iter()
                .map(|(k, mv)| (k.to_string(), from_hydrate(&mv.value)))
                .collect(),
        ),
        hydrate::Value::List(l) => {
            Value::Array(l.iter().map(|lv| from_hydrate(&lv.value)).collect())
        }
        hydrate::Value::Text(t) => Value::String(t.to_string()),
    }
}

/// Converts an Automerge scalar to JSON.
pub fn from_scalar(s: &ScalarValue) -> Value {
    match s {
        ScalarValue::Str(s) => Value::String(s.to_string()),
        ScalarValue::Int(i) | ScalarValue::Timestamp(i) => Value::from(*i),
        ScalarValue::Uint(u) => Value::from(*u),
        ScalarValue::F64(f) => Value::from(*f),
        ScalarValue::Counter(c) => Value::from(i64::from(c)),
        ScalarValue::Boolean(b) => Value::Bool(*b),
        ScalarValue::Null | ScalarValue::Bytes(_) | ScalarValue::Unknown { .. } => Value::Null,
    }
}
