"""Images to bitstream files and back: container, codec, model storage and the zoo."""
