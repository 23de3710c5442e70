"""A few training steps of the generated PyTorch module (tinyres_torch.py, from `archspec compile`)."""

import torch
from tinyres_torch import Tinyres

torch.manual_seed(0)
model = Tinyres()
# On real data: torchvision.datasets.CIFAR10(root, train=True, transform=ToTensor()) and a DataLoader.
images, labels = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
for step in range(5):
    loss = torch.nn.functional.cross_entropy(model(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    print(f"step {step}: loss {loss.item():.2f}")
