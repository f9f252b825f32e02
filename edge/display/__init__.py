"""Live ward display: records and EEG windows from the runtime -> per-bed state -> pages pushed over SSE.

`sink.DisplaySink` is the runtime's non-blocking hand-off, `state.WardState` what the pages show,
`server` the read-only web app (Starlette + uvicorn, assets served from this package), `tail` the
JSONL follower behind `edge monitor`.
"""
