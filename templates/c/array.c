static const {{ a.ctype }} {{ a.name }}{{ a.dims }} = {
{%- for line in a.lines %}
{{ line }}
{%- endfor %}
};
