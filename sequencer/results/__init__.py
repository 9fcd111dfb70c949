"""What a run hands the user: its frames laid out for a stacker (`export`, with a Siril script), a preview
of each set's masters, and one HTML page that tells the whole run (`report`)."""
