"""What `make bench` measures besides the pipeline itself: the COPY floor of the same files, the peak
memory of the process tree, where the time goes (`--profile`), and the results it keeps."""
