//! The members of a chat message, its parts and its tool calls that `translate::message`
//! reads, each an `Object` read leniently (`translate::lenient`) from the message's text or
//! tree: the typed message is made of them and goes on to `translate::conversation`.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess};

use super::lenient::{IsStr, Object, Str, lenient};
use super::message::Message;

impl<P> Default for Message<'_, P> {
    fn default() -> Self {
        Message { role: Str::default(), content: None, tool_calls: None, tool_call_id: None, name: None }
    }
}

impl<'de: 'a, 'a, P: Deserialize<'de>> Object<'de> for Message<'a, P> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "role" => self.role = map.next_value()?,
            "content" => self.content = Some(map.next_value()?),
            "tool_calls" => self.tool_calls = Some(map.next_value()?),
            "tool_call_id" => self.tool_call_id = Some(map.next_value()?),
            "name" => self.name = Some(map.next_value()?),
            _ => map.next_value::<IgnoredAny>().map(drop)?,
        }
        Ok(())
    }
}

lenient!(Message<'a, P>);

/// The kinds of part the translation reads.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) enum PartKind {
    Text,
    Image,
    File,
    #[default]
    Other,
}

/// A look at a part: its kind, and whether a text part has a string `text` and nothing but
/// `type` and `cache_control` beside it.
#[derive(Debug, Default)]
pub(super) struct Head {
    pub(super) kind: PartKind,
    pub(super) text: bool,
    pub(super) extra: bool,
}

impl Head {
    pub(super) fn plain(&self) -> bool {
        self.text && !self.extra
    }
}

impl<'de> Object<'de> for Head {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "type" => {
                self.kind = match map.next_value::<Str<'_>>()?.as_str() {
                    "text" => PartKind::Text,
                    "image_url" => PartKind::Image,
                    "file" => PartKind::File,
                    _ => PartKind::Other,
                };
            }
            "text" => self.text = map.next_value::<IsStr>()?.0,
            "cache_control" => map.next_value::<IgnoredAny>().map(drop)?,
            _ => {
                self.extra = true;
                map.next_value::<IgnoredAny>().map(drop)?;
            }
        }
        Ok(())
    }
}

lenient!(Head);

/// The members of a text, image or file part the translation reads.
pub(super) struct PartWire<'a, P> {
    pub(super) text: Option<P>,
    pub(super) cache_control: Option<P>,
    pub(super) image_url: Url<'a>,
    pub(super) file: FileWire<'a>,
}

impl<P> Default for PartWire<'_, P> {
    fn default() -> Self {
        PartWire { text: None, cache_control: None, image_url: Url::default(), file: FileWire::default() }
    }
}

impl<'de: 'a, 'a, P: Deserialize<'de>> Object<'de> for PartWire<'a, P> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "text" => self.text = Some(map.next_value()?),
            "cache_control" => self.cache_control = Some(map.next_value()?),
            "image_url" => self.image_url = map.next_value()?,
            "file" => self.file = map.next_value()?,
            _ => map.next_value::<IgnoredAny>().map(drop)?,
        }
        Ok(())
    }
}

lenient!(PartWire<'a, P>);

/// `image_url`: its `url` member, or the string itself.
#[derive(Debug, Default)]
pub(super) struct Url<'a>(pub(super) Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Object<'de> for Url<'a> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "url" => self.0 = map.next_value::<Str<'a>>()?.0,
            _ => map.next_value::<IgnoredAny>().map(drop)?,
        }
        Ok(())
    }
    fn text(text: Cow<'de, str>) -> Self {
        Url(Some(text))
    }
    fn str(text: &str) -> Self {
        Url(Some(Cow::Owned(text.to_owned())))
    }
}

lenient!(Url<'a>);

/// `file`: its `file_data`.
#[derive(Debug, Default)]
pub(super) struct FileWire<'a> {
    pub(super) file_data: Str<'a>,
}

impl<'de: 'a, 'a> Object<'de> for FileWire<'a> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "file_data" => self.file_data = map.next_value()?,
            _ => map.next_value::<IgnoredAny>().map(drop)?,
        }
        Ok(())
    }
}

lenient!(FileWire<'a>);

/// A part's `text` member, when a string.
#[derive(Debug, Default)]
pub(super) struct TextMember(pub(super) Option<String>);

impl<'de> Object<'de> for TextMember {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "text" => self.0 = map.next_value::<Str<'_>>()?.0.map(Cow::into_owned),
            _ => map.next_value::<IgnoredAny>().map(drop)?,
        }
        Ok(())
    }
}

lenient!(TextMember);

/// One of `tool_calls`: `id`, `function` and `provider_specific_fields`.
pub(super) struct CallWire<'a, P> {
    pub(super) id: Option<P>,
    pub(super) function: FunctionWire<'a, P>,
    pub(super) fields: SpecificFields<'a>,
}

impl<P> Default for CallWire<'_, P> {
    fn default() -> Self {
        CallWire { id: None, function: FunctionWire::default(), fields: SpecificFields::default() }
    }
}

impl<'de: 'a, 'a, P: Deserialize<'de>> Object<'de> for CallWire<'a, P> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "id" => self.id = Some(map.next_value()?),
            "function" => self.function = map.next_value()?,
            "provider_specific_fields" => self.fields = map.next_value()?,
            _ => map.next_value::<IgnoredAny>().map(drop)?,
        }
        Ok(())
    }
}

lenient!(CallWire<'a, P>);

/// A tool call's `function`: `name` as it came and `arguments` when a string.
pub(super) struct FunctionWire<'a, P> {
    pub(super) name: Option<P>,
    pub(super) arguments: Str<'a>,
}

impl<P> Default for FunctionWire<'_, P> {
    fn default() -> Self {
        FunctionWire { name: None, arguments: Str::default() }
    }
}

impl<'de: 'a, 'a, P: Deserialize<'de>> Object<'de> for FunctionWire<'a, P> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "name" => self.name = Some(map.next_value()?),
            "arguments" => self.arguments = map.next_value()?,
            _ => map.next_value::<IgnoredAny>().map(drop)?,
        }
        Ok(())
    }
}

lenient!(FunctionWire<'a, P>);

/// A tool call's `provider_specific_fields`: Gemini's `thought_signature`.
#[derive(Debug, Default)]
pub(super) struct SpecificFields<'a> {
    pub(super) thought_signature: Str<'a>,
}

impl<'de: 'a, 'a> Object<'de> for SpecificFields<'a> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "thought_signature" => self.thought_signature = map.next_value()?,
            _ => map.next_value::<IgnoredAny>().map(drop)?,
        }
        Ok(())
    }
}

lenient!(SpecificFields<'a>);
