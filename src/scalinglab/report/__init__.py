"""Show a fit: static plots (:mod:`.plots`, matplotlib) and a self-contained HTML report
(:mod:`.html`, plotly). matplotlib and plotly are imported by those modules only."""
