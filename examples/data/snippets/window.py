def moving_average(values, size):
    out = []
    for i in range(len(values) - size + 1):
        out.append(sum(values[i : i + size]) / size)
    return out
