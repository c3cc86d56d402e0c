//! OpenAI chat request → Bedrock Converse request, pure, as LiteLLM's
//! `AmazonConverseConfig` does it: system and developer messages to `system`, content parts
//! to typed content blocks (`bedrock::body::Block`; data-URI images and documents as bytes; a URL is refused, the gateway
//! fetches nothing), tool calls and results to `toolUse` and `toolResult` (adjacent turns of
//! a role merged, so a run of tool results is one user turn), `tools`/`tool_choice` to
//! `toolConfig`, `max_tokens`/`temperature`/`top_p`/`stop` to `inferenceConfig`, thinking,
//! `top_k` and the model's own fields to `additionalModelRequestFields`, and a
//! `response_format` schema to a forced tool. The body goes back to `bedrock::forward`.

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use super::body::{
    Block, CachePoint, Document, Empty, Head, Image, Inference, Source, Tool, ToolChoice as Choice, ToolConfig,
    ToolResult as ToolResultBlock, ToolUse,
};

use crate::budget::Charge;
use crate::error::Error;
use crate::parse::{Fields, Member};
use crate::provider::anthropic::request::DEFAULT_MAX_TOKENS;
use crate::provider::translate::bad;
use crate::provider::translate::block::Long;
use crate::provider::translate::conversation::{
    self, Content, Given, Part, Render, Said, ToolCall, ToolResult, data_uri,
};
use crate::provider::translate::params::{self, ResponseFormat, Stop, ToolChoice, take, thinking_enabled};
use crate::provider::translate::tools::{self, Listed, Schema};
use crate::upstream::{self, Builder};

/// The tool `response_format` becomes when its schema names none (LiteLLM's name).
pub const JSON_TOOL: &str = "json_tool_call";
/// Top-level Converse members a request may set itself.
const CONFIG_BLOCKS: &[&str] = &["guardrailConfig", "performanceConfig", "promptVariables", "requestMetadata"];

/// The Converse body and whether the reply's one tool call is the JSON answer.
#[derive(Debug)]
pub struct Outgoing {
    pub body: upstream::Outgoing,
    pub json_mode: bool,
}

/// Translates the chat `fields` for `model` (its family decides where `top_k` goes);
/// `drop_params` drops what Bedrock cannot take instead of refusing it.
pub fn translate(mut fields: Fields, model: &str, drop_params: bool, charge: &mut Charge) -> Result<Outgoing, Error> {
    let messages = conversation::take_messages(&mut fields)?;
    let mut out = Builder::default();
    out.bytes(b"{");
    out.key("messages");
    let system = conversation::write(messages, "content", &mut Blocks::default(), &mut out, charge)?;
    // `model` named the deployment; the URL carries the model id, and Bedrock refuses a
    // `model` among the model's own fields.
    for key in ["model", "stream", "stream_options"] {
        fields.remove(key);
    }
    let mut head = Head { system, inference: inference_config(&mut fields), ..Head::default() };
    thinking(&mut fields, &mut head.additional)?;
    if let Some(top_k) = take(&mut fields, "top_k") {
        top_k_for(model, top_k, &mut head.additional);
    }
    let mut tools = tool_list(&mut fields)?;
    let mut choice = tool_choice(&mut fields, drop_params)?;
    let json_mode = response_format(&mut fields, &mut tools, &mut choice, head.additional.contains_key("thinking"))?;
    let budget = head.additional.get("thinking").and_then(|t| t.get("budget_tokens")).and_then(Value::as_u64);
    if let (Some(budget), None) = (budget, &head.inference.max_tokens) {
        head.inference.max_tokens = Some(json!(DEFAULT_MAX_TOKENS + budget));
    }
    if !tools.is_empty() {
        head.tool_config = Some(ToolConfig { tool_choice: choice, tools });
    }
    head.config = CONFIG_BLOCKS.iter().filter_map(|key| Some((*key, take(&mut fields, key)?))).collect();
    // Every other field is the model's own (`top_k` of other families, ...).
    for (key, member) in fields.into_members() {
        head.additional.insert(String::from(&*key), member_value(member)?);
    }
    head.write(&mut out);
    out.bytes(b"}");
    Ok(Outgoing { body: out.build(), json_mode })
}

fn member_value(member: Member) -> Result<Value, Error> {
    match member {
        Member::Tree(value) => Ok(value),
        Member::Raw(raw) => serde_json::from_slice(&raw).map_err(|e| Error::BadJson(e.to_string())),
        Member::List(_) | Member::Mapped(_) => Err(bad("messages", "a list field cannot be passed to Bedrock")),
    }
}

/// `maxTokens`, `temperature`, `topP`, `stopSequences`.
fn inference_config(fields: &mut Fields) -> Inference {
    let stop_sequences = match Stop::take(fields) {
        Some(Stop::One(stop)) if stop.is_empty() => None,
        Some(stop) => Some(stop.into_list()),
        None => None,
    };
    Inference {
        max_tokens: params::max_tokens(fields),
        temperature: take(fields, "temperature"),
        top_p: take(fields, "top_p"),
        stop_sequences,
    }
}

/// `thinking` as given, else `reasoning_effort` as Anthropic's thinking budget.
fn thinking(fields: &mut Fields, additional: &mut Map<String, Value>) -> Result<(), Error> {
    if let Some(thinking) = take(fields, "thinking") {
        fields.remove("reasoning_effort");
        additional.insert("thinking".into(), thinking);
        return Ok(());
    }
    if let Some(budget) = params::thinking_budget(fields)? {
        additional.insert("thinking".into(), thinking_enabled(budget));
    }
    Ok(())
}

/// `top_k`: Anthropic models take it as `top_k`, Nova as `inferenceConfig.topK` (both in
/// `additionalModelRequestFields`); other families get it as the client wrote it.
fn top_k_for(model: &str, top_k: Value, additional: &mut Map<String, Value>) {
    let base = base_model(model);
    if base.starts_with("amazon.nova") {
        additional.insert("inferenceConfig".into(), json!({ "topK": top_k }));
    } else {
        additional.insert("top_k".into(), top_k);
    }
}

/// The model id without its ARN and cross-region prefix (`us.anthropic.…` → `anthropic.…`).
pub fn base_model(model: &str) -> &str {
    const REGIONS: &[&str] = &["us.", "eu.", "apac.", "us-gov.", "global.", "jp.", "au.", "ca."];
    let model = model.rsplit('/').next().unwrap_or(model);
    REGIONS.iter().find_map(|r| model.strip_prefix(r)).unwrap_or(model)
}

/// Converse's blocks for the neutral conversation (`translate::conversation`), numbering
/// the documents it names.
#[derive(Default)]
struct Blocks {
    documents: usize,
}

impl Render for Blocks {
    const ASSISTANT: &'static str = "assistant";
    type Block = Block;

    /// A message's content as Converse blocks; a part with `cache_control` is followed by
    /// a cache point.
    fn parts(&mut self, content: Vec<Content<'_>>) -> Result<Vec<Block>, Error> {
        let mut out = Vec::with_capacity(content.len());
        for content in content {
            if let Some(block) = self.block(content.part)? {
                out.push(block);
            }
            if content.cache_control.is_some() {
                out.push(Block::CachePoint(CachePoint { kind: "default" }));
            }
        }
        Ok(out)
    }

    /// System blocks: text and cache points only.
    fn system(&mut self, content: Vec<Content<'_>>) -> Result<Vec<Block>, Error> {
        let blocks = self.parts(content)?;
        Ok(blocks.into_iter().filter(|b| matches!(b, Block::Text(_) | Block::CachePoint(_))).collect())
    }

    fn tool_call(&mut self, call: ToolCall<'_>) -> Result<Block, Error> {
        let (name, tool_use_id) = (call.name.into_value()?, call.id.into_value()?);
        Ok(Block::ToolUse(ToolUse { input: call.arguments, name, tool_use_id }))
    }

    /// A `tool` message as a `toolResult` block.
    fn tool_result(&mut self, result: ToolResult<'_>) -> Result<Block, Error> {
        let content = match result.content {
            Said::Text(text) => vec![Block::Text(Long::from(text.into_owned()))],
            Said::None => vec![Block::Text(Long::default())],
            other => {
                self.parts(other.into_parts()?)?.into_iter().filter(|b| !matches!(b, Block::CachePoint(_))).collect()
            }
        };
        Ok(Block::ToolResult(ToolResultBlock { content, tool_use_id: result.id.into_value()? }))
    }
}

impl Blocks {
    /// One content part as a Converse block; empty text is left out.
    fn block(&mut self, part: Part<'_>) -> Result<Option<Block>, Error> {
        match part {
            Part::Text { text } | Part::Odd { text: Given::Str(text), .. } if text.is_empty() => Ok(None),
            Part::Text { text } | Part::Odd { text: Given::Str(text), .. } => {
                Ok(Some(Block::Text(Long::from(text.into_owned()))))
            }
            Part::Odd { .. } => Err(bad("messages", "a text part needs text")),
            Part::Image { url: None } => Err(bad("messages", "image_url needs a url")),
            Part::Image { url: Some(url) } => {
                let (media_type, data) = media(url)?;
                let format = media_type.strip_prefix("image/").unwrap_or(&media_type);
                let format = if format == "jpg" { "jpeg" } else { format };
                Ok(Some(Block::Image(Image { format: format.to_owned(), source: Source { bytes: Long::from(data) } })))
            }
            Part::File { data: None } => Err(bad("messages", "file parts need file_data")),
            Part::File { data: Some(data) } => {
                let (media_type, data) = media(data)?;
                let format = document_format(&media_type).to_owned();
                self.documents += 1;
                let name = format!("document-{}", self.documents);
                Ok(Some(Block::Document(Document { format, name, source: Source { bytes: Long::from(data) } })))
            }
            Part::Other(_) => Err(bad("messages", "bedrock/ deployments take text, image_url and file content parts")),
        }
    }
}

/// A `data:` URI's media type and base64 data; a URL is refused (the gateway does not fetch).
fn media(url: Cow<'_, str>) -> Result<(String, String), Error> {
    data_uri(url).map_err(|url| {
        let shown: String = url.chars().take(80).collect();
        bad(
            "messages",
            format!(
                "bedrock/ deployments take images and files as base64 data: URIs; the gateway does not fetch URLs ({shown})"
            ),
        )
    })
}

/// Converse's document format for a media type (`application/pdf` → `pdf`).
fn document_format(media_type: &str) -> &str {
    match media_type {
        "application/pdf" => "pdf",
        "text/csv" => "csv",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "text/html" => "html",
        "text/markdown" => "md",
        "text/plain" => "txt",
        other => other.rsplit('/').next().unwrap_or(other),
    }
}

/// `tools` as `toolSpec`s, each function's `parameters` the client's text.
fn tool_list(fields: &mut Fields) -> Result<Vec<Tool>, Error> {
    tools::take(fields)?
        .into_iter()
        .map(|tool| {
            let Listed::Object { function: Some(mut function), .. } = tool else {
                return Err(bad("tools", "bedrock/ takes function tools"));
            };
            let Some(name) = function.name.take() else { return Err(bad("tools", "a function needs a name")) };
            Ok(Tool::new(name, function.description.take(), function.schema()))
        })
        .collect()
}

/// `tool_choice`: `auto`, `required` (`any`) or a named function (`tool`); Bedrock has no
/// `none`, which is refused (dropped with `drop_params`), as LiteLLM does.
fn tool_choice(fields: &mut Fields, drop_params: bool) -> Result<Option<Choice>, Error> {
    match ToolChoice::take(fields, "must be auto, required or a function")? {
        None => Ok(None),
        Some(ToolChoice::Auto) => Ok(Some(Choice::Auto(Empty {}))),
        Some(ToolChoice::Required) => Ok(Some(Choice::Any(Empty {}))),
        Some(ToolChoice::None) if drop_params => Ok(None),
        Some(ToolChoice::None) => {
            Err(bad("tool_choice", "Bedrock has no tool_choice none; leave the tools out, or set drop_params"))
        }
        Some(ToolChoice::Function(name)) => Ok(Some(Choice::Tool { name })),
    }
}

/// `response_format`: `json_schema` and `json_object` become one more tool, forced unless
/// thinking is on (Bedrock refuses a forced tool with thinking); `text` needs nothing.
fn response_format(
    fields: &mut Fields,
    tools: &mut Vec<Tool>,
    choice: &mut Option<Choice>,
    thinking: bool,
) -> Result<bool, Error> {
    let Some(format) = ResponseFormat::take(fields) else { return Ok(false) };
    let (name, schema, description) = match format {
        ResponseFormat::Text => return Ok(false),
        ResponseFormat::JsonSchema { name, description, schema } => {
            let name = name.filter(|n| !n.is_empty()).unwrap_or_else(|| JSON_TOOL.to_owned());
            (name, schema, description)
        }
        ResponseFormat::JsonObject => (JSON_TOOL.to_owned(), None, None),
        ResponseFormat::Other => return Err(bad("response_format", "must be text, json_object or json_schema")),
    };
    let schema = schema.unwrap_or_else(|| json!({ "type": "object", "additionalProperties": true, "properties": {} }));
    tools.push(Tool::new(Value::String(name.clone()), description, Schema::Tree(schema)));
    if !thinking {
        *choice = Some(Choice::Tool { name });
    }
    Ok(true)
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
