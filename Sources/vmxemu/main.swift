print("vmxemu")
