"""One Textual Screen per mode -- live, compare, replay (and watch) -- and the modal screens."""
