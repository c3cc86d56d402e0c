//! The chat parameters every translating provider reads, each read once into a neutral
//! type: the output limit, stop sequences, the thinking budget `reasoning_effort` asks
//! for, `tool_choice`, function tools and `response_format`. Each provider's request
//! module (`anthropic::request`, `gemini::request`, `bedrock::request`) writes them in its
//! own shape and refuses what it cannot take.

use serde_json::{Value, json};

use super::bad;
use crate::error::Error;
use crate::parse::Fields;

/// Thinking budgets LiteLLM uses for `reasoning_effort`.
const THINKING_BUDGETS: &[(&str, u64)] = &[("low", 1024), ("medium", 2048), ("high", 4096)];

/// Takes `member` out as a tree, `None` when absent or null.
pub fn take(fields: &mut Fields, key: &str) -> Option<Value> {
    fields.take(key)
}

/// `max_completion_tokens`, else `max_tokens` (both taken out).
pub fn max_tokens(fields: &mut Fields) -> Option<Value> {
    let completion = take(fields, "max_completion_tokens");
    let max_tokens = take(fields, "max_tokens");
    completion.or(max_tokens)
}

/// `stop`: one sequence, or what the client gave otherwise (a list).
#[derive(Debug, PartialEq)]
pub enum Stop {
    One(String),
    Many(Value),
}

impl Stop {
    pub fn take(fields: &mut Fields) -> Option<Stop> {
        Some(match take(fields, "stop")? {
            Value::String(stop) => Stop::One(stop),
            other => Stop::Many(other),
        })
    }

    /// The sequences as a list.
    pub fn into_list(self) -> Value {
        match self {
            Stop::One(stop) => json!([stop]),
            Stop::Many(list) => list,
        }
    }
}

/// The thinking budget `reasoning_effort` asks for (taken out); a 400 for an unknown effort.
pub fn thinking_budget(fields: &mut Fields) -> Result<Option<u64>, Error> {
    let Some(effort) = take(fields, "reasoning_effort") else { return Ok(None) };
    let budget = THINKING_BUDGETS.iter().find(|(name, _)| effort.as_str() == Some(name));
    let Some((_, budget)) = budget else { return Err(bad("reasoning_effort", "must be low, medium or high")) };
    Ok(Some(*budget))
}

/// Anthropic's `thinking` for a budget (Bedrock passes it to Anthropic models too).
pub fn thinking_enabled(budget: u64) -> Value {
    json!({ "type": "enabled", "budget_tokens": budget })
}

/// `tool_choice`.
#[derive(Debug, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    Required,
    None,
    /// `{"type":"function","function":{"name":…}}`.
    Function(String),
}

impl ToolChoice {
    /// Takes `tool_choice` out; an unknown mode is a 400 saying `modes`.
    pub fn take(fields: &mut Fields, modes: &'static str) -> Result<Option<ToolChoice>, Error> {
        Ok(Some(match take(fields, "tool_choice") {
            None => return Ok(None),
            Some(Value::String(mode)) => match mode.as_str() {
                "auto" => ToolChoice::Auto,
                "required" => ToolChoice::Required,
                "none" => ToolChoice::None,
                _ => return Err(bad("tool_choice", modes)),
            },
            Some(named) => {
                let name = named.get("function").and_then(|f| f.get("name")).and_then(Value::as_str);
                let Some(name) = name else { return Err(bad("tool_choice", "a named choice needs function.name")) };
                ToolChoice::Function(name.to_owned())
            }
        }))
    }
}

/// `tools` taken out as a list of trees (empty when absent), for Gemini, which converts
/// their schemas; `translate::tools` reads them for the providers that send schemas as they
/// came. A 400 when not a list.
pub fn tools(fields: &mut Fields) -> Result<Vec<Value>, Error> {
    match take(fields, "tools") {
        None => Ok(Vec::new()),
        Some(Value::Array(tools)) => Ok(tools),
        Some(_) => Err(bad("tools", "must be a list")),
    }
}

/// Whether a tool is an OpenAI function tool (`"type":"function"`).
pub fn is_function(tool: &Value) -> bool {
    tool.get("type").and_then(Value::as_str) == Some("function")
}

/// A function tool's `function`, read where it is.
#[derive(Debug)]
pub struct Function<'a> {
    pub name: Option<&'a Value>,
    pub description: Option<&'a Value>,
    pub parameters: Option<&'a Value>,
}

impl<'a> Function<'a> {
    /// The tool's `function`, `None` when it has none.
    pub fn of(tool: &'a Value) -> Option<Function<'a>> {
        let function = tool.get("function")?;
        Some(Function {
            name: function.get("name"),
            description: function.get("description"),
            parameters: function.get("parameters"),
        })
    }
}

/// `response_format`.
#[derive(Debug, PartialEq)]
pub enum ResponseFormat {
    Text,
    JsonObject,
    /// `json_schema`'s `name`, `description` and `schema`, moved out.
    JsonSchema {
        name: Option<String>,
        description: Option<Value>,
        schema: Option<Value>,
    },
    /// Any other type.
    Other,
}

impl ResponseFormat {
    pub fn take(fields: &mut Fields) -> Option<ResponseFormat> {
        let mut format = take(fields, "response_format")?;
        Some(match format.get("type").and_then(Value::as_str) {
            Some("text") => ResponseFormat::Text,
            Some("json_object") => ResponseFormat::JsonObject,
            Some("json_schema") => {
                let mut inner = format.get_mut("json_schema").map(Value::take).unwrap_or_default();
                let mut member = |key: &str| inner.get_mut(key).map(Value::take);
                let name = member("name").and_then(|n| if let Value::String(n) = n { Some(n) } else { None });
                ResponseFormat::JsonSchema { name, description: member("description"), schema: member("schema") }
            }
            _ => ResponseFormat::Other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: &Value) -> Fields {
        Fields::parse(&bytes::Bytes::from(v.to_string())).unwrap_or_default()
    }

    #[test]
    fn each_parameter_reads_into_its_neutral_type() {
        let mut f = fields(&json!({
            "max_tokens": 5, "max_completion_tokens": 7, "stop": "END", "reasoning_effort": "medium",
            "tool_choice": { "type": "function", "function": { "name": "f" } },
            "response_format": { "type": "json_schema", "json_schema": { "name": "x", "schema": { "type": "object" } } },
        }));
        assert_eq!(max_tokens(&mut f), Some(json!(7)));
        assert!(!f.contains("max_tokens"), "both limits are taken out");
        assert_eq!(Stop::take(&mut f).map(Stop::into_list), Some(json!(["END"])));
        assert_eq!(thinking_budget(&mut f).ok(), Some(Some(2048)));
        assert_eq!(ToolChoice::take(&mut f, "").ok(), Some(Some(ToolChoice::Function("f".into()))));
        assert_eq!(
            ResponseFormat::take(&mut f),
            Some(ResponseFormat::JsonSchema {
                name: Some("x".into()),
                description: None,
                schema: Some(json!({ "type": "object" }))
            })
        );
        let mut bad = fields(&json!({ "reasoning_effort": "max", "tool_choice": "sometimes", "tools": {} }));
        assert!(thinking_budget(&mut bad).is_err());
        assert!(ToolChoice::take(&mut bad, "must be auto").is_err());
        assert!(tools(&mut bad).is_err());
    }
}
