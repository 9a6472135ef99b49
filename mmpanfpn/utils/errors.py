"""The message a tool ends with when its input is broken."""


def error_message(err: BaseException) -> str:
    """The message of ``err``, without the traceback text torch's DataLoader
    wraps around an error raised in a worker process (``Caught ValueError in
    DataLoader worker process 0.

    Original Traceback ... ValueError: <the message>``), so that the message
    naming the file is what a user reads.
    """
    text = str(err)
    if not (text.startswith('Caught ') and 'Original Traceback' in text):
        return text
    prefix = f'{type(err).__name__}: '
    lines = text.rstrip().splitlines()
    for start in range(len(lines) - 1, -1, -1):
        if lines[start].startswith(prefix):
            return '\n'.join([lines[start][len(prefix):]] + lines[start + 1:])
    return lines[-1]
