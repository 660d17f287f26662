print("mtor-bench: being written")
