// The Jinja chat template stored as tokenizer.chat_template in test models.
//
// It renders the Gemma 4 turn layout: an optional system turn (holding <|think|> when
// thinking is on), user and model turns framed by <|turn>ROLE\n ... <turn|>\n, media parts
// as <|audio|> / <|image|> / <|video|> placeholders, text parts trimmed and joined without a
// separator, and with thinking off an empty thought channel after every <|turn>model\n,
// the generation prompt included. It is metadata only: the engine builds prompts itself.
// NOTE: with thinking on, earlier model turns are rendered as given; a caller must strip
// their thought blocks.
#pragma once

#include <string_view>

namespace utter::test_model {

inline constexpr std::string_view kGemma4ChatTemplate = R"JINJA({%- macro render_content(content) -%}
    {%- if content is string -%}
        {{- content | trim -}}
    {%- else -%}
        {%- for part in content -%}
            {%- if part['type'] == 'text' -%}
                {{- part['text'] | trim -}}
            {%- elif part['type'] == 'audio' -%}
                {{- '<|audio|>' -}}
            {%- elif part['type'] == 'image' -%}
                {{- '<|image|>' -}}
            {%- elif part['type'] == 'video' -%}
                {{- '<|video|>' -}}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro -%}
{%- set thinking = enable_thinking is defined and enable_thinking -%}
{{- bos_token -}}
{%- if messages and messages[0]['role'] in ['system', 'developer'] -%}
    {%- set conversation = messages[1:] -%}
    {{- '<|turn>system\n' -}}
    {%- if thinking -%}
        {{- '<|think|>\n' -}}
    {%- endif -%}
    {{- render_content(messages[0]['content']) -}}
    {{- '<turn|>\n' -}}
{%- else -%}
    {%- set conversation = messages -%}
    {%- if thinking -%}
        {{- '<|turn>system\n<|think|>\n<turn|>\n' -}}
    {%- endif -%}
{%- endif -%}
{%- for message in conversation -%}
    {%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}
    {{- '<|turn>' + role + '\n' -}}
    {%- if role == 'model' and not thinking -%}
        {{- '<|channel>thought\n<channel|>' -}}
    {%- endif -%}
    {{- render_content(message['content']) -}}
    {{- '<turn|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- '<|turn>model\n' -}}
    {%- if not thinking -%}
        {{- '<|channel>thought\n<channel|>' -}}
    {%- endif -%}
{%- endif -%}
)JINJA";

}  // namespace utter::test_model
