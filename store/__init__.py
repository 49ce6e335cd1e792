"""The Redis schema: keys, Lua scripts and their arguments, codecs, the writer and the reader."""
