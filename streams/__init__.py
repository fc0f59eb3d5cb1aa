"""Stream processing: the embedded broker, the faust app and its agents."""
