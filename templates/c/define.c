#define {{ d.name }}	{{ d.value }}{% if let Some(comment) = d.comment %}	/* {{ comment }} */{% endif %}
