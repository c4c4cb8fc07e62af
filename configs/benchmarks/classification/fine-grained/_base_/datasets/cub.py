# CUB-200-2011 in mmpretrain's layout (mmpretrain.datasets.CUB): CUB_200_2011/{images/<class>/*.jpg,
# images.txt, image_class_labels.txt, train_test_split.txt}; the official split, 5,994 train / 5,794 test.
# Only the dataset, split and class count: pipelines and batch sizes come from the protocol config.
fg_num_classes = 200
fg_train_dataset = dict(type='CUB', data_root='data/CUB_200_2011', split='train')
fg_test_dataset = dict(type='CUB', data_root='data/CUB_200_2011', split='test')
